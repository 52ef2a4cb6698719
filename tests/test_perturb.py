"""accent.data.perturb: speed-perturbed copies of a data directory, decoded through real sox pipes."""

from __future__ import annotations

from pathlib import Path

import pytest

from accent.data.audio import read_wav_scp_entry
from accent.data.kaldi_dir import DataDirError, read_mapping, write_data_dir
from accent.data.perturb import speed_perturb_data_dir, speed_pipe
from conftest import write_wav


def make_dir(tmp_path: Path) -> Path:
    wavs = {f"SPK{s}-{i}": write_wav(tmp_path / "wav" / f"SPK{s}-{i}.wav", seconds=0.5 + 0.25 * i, seed=i)
            for s in (1, 2) for i in (0, 1)}
    data = tmp_path / "data" / "train"
    scp = {u: str(p) for u, p in wavs.items()}
    scp["SPK2-1"] = f"sox {wavs['SPK2-1']} -t wav - |"  # a pipe entry, as --convert-audio writes
    write_data_dir(data, {
        "wav.scp": scp,
        "utt2spk": {u: u.split("-")[0] for u in wavs},
        "utt2accent": {u: "US" if u.startswith("SPK1") else "UK" for u in wavs},
        "utt2dur": {u: f"{0.5 + 0.25 * int(u[-1]):.3f}" for u in wavs},
        "text": {u: "HELLO WORLD" for u in wavs},
    }, labels=["US", "UK"])
    return data


def test_three_way_copy_plays_at_the_right_speed(tmp_path) -> None:
    src = make_dir(tmp_path)
    dst = tmp_path / "data" / "train_sp"
    assert speed_perturb_data_dir(src, dst) == 12
    utt2spk = read_mapping(dst / "utt2spk")
    assert utt2spk["sp0.9-SPK1-0"] == "sp0.9-SPK1" and utt2spk["SPK1-0"] == "SPK1"
    assert read_mapping(dst / "utt2accent")["sp1.1-SPK2-0"] == "UK"
    assert read_mapping(dst / "utt2dur")["sp0.9-SPK1-1"] == f"{0.75 / 0.9:.3f}"
    assert (dst / "accents").read_text() == "US\nUK\n"
    scp = read_mapping(dst / "wav.scp")
    for utt, seconds in (("SPK1-1", 0.75), ("SPK2-1", 0.75)):  # a path and a pipe
        base, _ = read_wav_scp_entry(scp[utt])
        for f in (0.9, 1.1):
            samples, rate = read_wav_scp_entry(scp[f"sp{f:g}-{utt}"])
            assert rate == 16000
            assert abs(len(samples) - len(base) / f) <= 0.01 * len(base), (utt, f)
    assert not (dst.parent / "train_sp.tmp").exists()


def test_pipes_chain_and_bad_input_is_refused(tmp_path) -> None:
    assert speed_pipe("a b.wav", 0.9) == "sox 'a b.wav' -t wav - speed 0.9 |"
    assert speed_pipe("flac -dc x.flac |", 1.1) == "flac -dc x.flac | sox -t wav - -t wav - speed 1.1 |"
    assert speed_pipe("x.wav", 1.0) == "x.wav"
    src = make_dir(tmp_path)
    with pytest.raises(ValueError, match="distinct and positive"):
        speed_perturb_data_dir(src, tmp_path / "out", [0.9, 0.9])
    (src / "utt2dur").write_text("SPK1-0 0.5\nSPK1-1 x\nSPK2-0 0.5\nSPK2-1 0.75\n")
    with pytest.raises(DataDirError, match="utt2dur: duration of SPK1-1 is not a number"):
        speed_perturb_data_dir(src, tmp_path / "out")
    assert not (tmp_path / "out").exists()
