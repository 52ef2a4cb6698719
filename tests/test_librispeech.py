"""LibriSpeech through lhotse's recipe, exported as Kaldi data directories."""

from pathlib import Path

import pytest
import soundfile as sf

from accent.data.kaldi_dir import read_mapping, validate_data_dir
from accent.data.librispeech import prepare_librispeech_dirs
from accent.data.problems import CorpusError
from conftest import make_librispeech, tone


def test_parts_to_data_dirs(tmp_path):
    root = make_librispeech(tmp_path / "LibriSpeech", "train-clean-100")
    make_librispeech(root, "train-clean-360", speakers=(40,))
    make_librispeech(root, "dev-clean", speakers=(84,), utts=2)
    parts = {"train-clean-100": "libri_train", "train-clean-360": "libri_train", "dev-clean": "libri_dev"}
    prepare_librispeech_dirs(root, tmp_path / "data", parts, tmp_path / "manifests")
    train = tmp_path / "data" / "libri_train"
    assert validate_data_dir(train, require=("wav.scp", "text", "utt2spk", "utt2dur")) == 9
    assert validate_data_dir(tmp_path / "data" / "libri_dev") == 2
    assert read_mapping(train / "text")["19-198-0001"] == "HELLO WORLD NUMBER 1 IT'S FINE"
    assert read_mapping(train / "utt2spk")["40-198-0000"] == "40"
    assert Path(read_mapping(train / "wav.scp")["26-198-0002"]).suffix == ".flac"


def test_bad_flac_listed_or_skipped(tmp_path):
    root = make_librispeech(tmp_path / "LibriSpeech", "dev-clean", utts=3)
    (root / "dev-clean" / "19" / "198" / "19-198-0001.flac").write_bytes(b"garbage" * 20)
    (root / "dev-clean" / "26" / "198" / "26-198-0002.flac").unlink()
    with pytest.raises(CorpusError) as err:
        prepare_librispeech_dirs(root, tmp_path / "data", {"dev-clean": "libri_dev"}, tmp_path / "m")
    assert "19-198-0001.flac: unreadable audio" in str(err.value)
    assert "26-198-0002.flac: missing audio file" in str(err.value)
    prepare_librispeech_dirs(root, tmp_path / "data", {"dev-clean": "libri_dev"}, tmp_path / "m2", skip_bad=True)
    d = tmp_path / "data" / "libri_dev"
    assert validate_data_dir(d) == 4
    assert set(read_mapping(d / "bad_utts")) == {"19-198-0001", "26-198-0002"}
    # wav.scp points at the real corpus, not at the symlinked view lhotse was run on
    assert all(str(root.resolve()) in p for p in read_mapping(d / "wav.scp").values())


def test_other_sample_rates_need_convert_audio(tmp_path):
    """As for AESRC: a file at another rate stops preparation, unless --convert-audio turns it into
    a sox pipe (listed in converted_audio); wav.scp paths are absolute."""
    from accent.data.audio import read_wav_scp_entry

    root = make_librispeech(tmp_path / "LibriSpeech", "dev-clean", utts=2)
    odd = root / "dev-clean" / "26" / "198" / "26-198-0001.flac"
    sf.write(odd, tone(0.6, 8000), 8000, format="FLAC")
    with pytest.raises(CorpusError, match="sample rate 8000 Hz, expected 16000 Hz.*--convert-audio"):
        prepare_librispeech_dirs(root, tmp_path / "data", {"dev-clean": "libri_dev"}, tmp_path / "m")
    prepare_librispeech_dirs(root, tmp_path / "data", {"dev-clean": "libri_dev"}, tmp_path / "m2", convert_audio=True)
    d = tmp_path / "data" / "libri_dev"
    wav_scp = read_mapping(d / "wav.scp")
    assert wav_scp["26-198-0001"].startswith("sox ") and wav_scp["26-198-0001"].endswith("|")
    assert set(read_mapping(d / "converted_audio")) == {"26-198-0001"}
    samples, rate = read_wav_scp_entry(wav_scp["26-198-0001"])
    assert rate == 16000 and abs(len(samples) - 9600) <= 2
    assert all(Path(v).is_absolute() for u, v in wav_scp.items() if u != "26-198-0001")


def test_trans_txt_problems_are_caught_at_data_preparation(tmp_path):
    root = make_librispeech(tmp_path / "LibriSpeech", "dev-clean", utts=3)
    trans = root / "dev-clean" / "19" / "198" / "19-198.trans.txt"
    lines = trans.read_text().splitlines()
    lines[1] = "19-198-0001 -- ... ?!"  # only symbols: no words after normalisation (G2P would fail later)
    trans.write_text("\n".join(lines) + "\n")
    with pytest.raises(CorpusError) as err:
        prepare_librispeech_dirs(root, tmp_path / "data", {"dev-clean": "libri_dev"}, tmp_path / "m")
    assert f"{trans}: line 2: transcript has no words after normalisation: '-- ... ?!'" in str(err.value)
    trans.write_bytes(trans.read_bytes().replace(b"HELLO WORLD NUMBER 2", b"HELLO W\xd6RLD NUMBER 2"))
    with pytest.raises(CorpusError, match=rf"^{trans}:3: not UTF-8 text \(byte 0xd6 at column 20\)"):
        prepare_librispeech_dirs(root, tmp_path / "data", {"dev-clean": "libri_dev"}, tmp_path / "m")
