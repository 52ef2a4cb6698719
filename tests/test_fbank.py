"""FBank jobs: Kaldi-compatible values, atomic outputs, resume, and every failure named."""

import os

import kaldiio
import numpy as np
import pytest

from accent.data.audio import AudioError, read_wav_scp_entry
from accent.data.kaldi_dir import read_mapping, write_data_dir
from accent.features.cmvn import apply_cmvn, compute_global_cmvn, utterance_cmvn
from accent.features.fbank import FbankConfig, combine_feats, compute_fbank, compute_fbank_job
from conftest import tone, write_wav


def _data_dir(tmp_path, n=4):
    wavs = {f"spk-u{i}": str(write_wav(tmp_path / "wav" / f"u{i}.wav", 0.5 + 0.25 * i, seed=i)) for i in range(n)}
    write_data_dir(tmp_path / "d", {"wav.scp": wavs, "utt2spk": {u: "spk" for u in wavs}})
    return tmp_path / "d"


def test_fbank_shape_and_frames():
    cfg = FbankConfig()
    feats = compute_fbank(tone(1.0).astype(np.float32), 16000, cfg)
    # Kaldi with snip_edges: 1 + (16000 - 400) // 160 frames
    assert feats.shape == (98, 40) and feats.dtype == np.float32
    assert np.isfinite(feats).all() and feats.std() > 0.5
    with pytest.raises(AudioError, match="expects 16000"):
        compute_fbank(tone(1.0, 8000).astype(np.float32), 8000, cfg)


def test_config_from_yaml(tmp_path):
    (tmp_path / "f.yaml").write_text("num_mel_bins: 80\n")
    assert FbankConfig.from_yaml(tmp_path / "f.yaml").num_mel_bins == 80
    (tmp_path / "g.yaml").write_text("num_bins: 80\n")
    with pytest.raises(ValueError, match="unknown fbank options"):
        FbankConfig.from_yaml(tmp_path / "g.yaml")


def test_job_writes_reads_and_resumes(tmp_path):
    d = _data_dir(tmp_path)
    prefix = tmp_path / "fbank" / "raw_fbank_d.1"
    scp = compute_fbank_job(d, prefix, FbankConfig())
    assert scp.name == "raw_fbank_d.1.scp"
    feats = dict(kaldiio.load_scp(str(scp)))
    assert sorted(feats) == [f"spk-u{i}" for i in range(4)]
    assert feats["spk-u0"].shape == (48, 40)
    mtime = os.stat(scp).st_mtime_ns
    compute_fbank_job(d, prefix, FbankConfig())  # complete: skipped
    assert os.stat(scp).st_mtime_ns == mtime
    assert combine_feats(d, [prefix]) == 4
    assert read_mapping(d / "utt2num_frames")["spk-u2"] == "98"


def test_failed_job_names_all_files_and_leaves_no_scp(tmp_path):
    d = _data_dir(tmp_path)
    wavs = read_mapping(d / "wav.scp")
    open(wavs["spk-u1"], "wb").write(b"junk" * 100)
    data = open(wavs["spk-u3"], "rb").read()
    open(wavs["spk-u3"], "wb").write(data[:50])
    prefix = tmp_path / "fbank" / "raw.1"
    with pytest.raises(AudioError) as err:
        compute_fbank_job(d, prefix, FbankConfig())
    assert "2 utterances failed" in str(err.value)
    assert wavs["spk-u1"] in str(err.value) and wavs["spk-u3"] in str(err.value)
    assert not (tmp_path / "fbank" / "raw.1.scp").exists()
    with pytest.raises(AudioError, match="did not finish"):
        combine_feats(d, [prefix])
    assert not (d / "feats.scp").exists()


def test_truncated_flac_detected(tmp_path):
    import soundfile as sf

    path = tmp_path / "a.flac"
    sf.write(path, tone(3.0), 16000, format="FLAC")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioError, match="truncated|cannot decode"):
        read_wav_scp_entry(str(path))


def test_pipe_entry(tmp_path):
    path = write_wav(tmp_path / "a.wav", 0.5, sample_rate=44100, channels=2)
    samples, rate = read_wav_scp_entry(f"sox {path} -t wav -r 16000 -c 1 -b 16 - |")
    assert rate == 16000 and samples.ndim == 1 and abs(len(samples) - 8000) <= 2
    with pytest.raises(AudioError, match="command failed"):
        read_wav_scp_entry(f"sox {tmp_path}/missing.wav -t wav - |")


def test_cmvn(tmp_path):
    d = _data_dir(tmp_path)
    prefix = tmp_path / "fbank" / "raw.1"
    compute_fbank_job(d, prefix, FbankConfig())
    combine_feats(d, [prefix])
    stats = compute_global_cmvn(d / "feats.scp", d / "cmvn.ark")
    assert stats.shape == (2, 41) and stats[0, -1] == 48 + 73 + 98 + 123
    np.testing.assert_allclose(kaldiio.load_mat(str(d / "cmvn.ark")), stats)
    allf = np.concatenate([m for _, m in kaldiio.load_scp_sequential(str(d / "feats.scp"))])
    normed = apply_cmvn(allf, stats)
    np.testing.assert_allclose(normed.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(normed.std(0), 1, atol=1e-3)
    u = utterance_cmvn(allf[:50])
    np.testing.assert_allclose(u.mean(0), 0, atol=1e-4)


def test_job_is_redone_when_its_options_or_audio_change(tmp_path):
    """A finished job counts as done only for the options and the wav.scp it was made with."""
    d = _data_dir(tmp_path)
    prefix = tmp_path / "fbank" / "raw_fbank_d.1"
    scp = compute_fbank_job(d, prefix, FbankConfig())
    assert kaldiio.load_mat(read_mapping(scp)["spk-u0"]).shape[1] == 40
    compute_fbank_job(d, prefix, FbankConfig(num_mel_bins=80))
    assert kaldiio.load_mat(read_mapping(scp)["spk-u0"]).shape[1] == 80
    mtime = os.stat(scp).st_mtime_ns
    compute_fbank_job(d, prefix, FbankConfig(num_mel_bins=80))  # same options, same audio: skipped
    assert os.stat(scp).st_mtime_ns == mtime
    # the same utterances read from other audio (e.g. converted): redone
    wavs = read_mapping(d / "wav.scp")
    wavs["spk-u0"] = str(write_wav(tmp_path / "wav" / "other.wav", 2.0, seed=9))
    write_data_dir(d, {"wav.scp": wavs})
    compute_fbank_job(d, prefix, FbankConfig(num_mel_bins=80))
    assert kaldiio.load_mat(read_mapping(scp)["spk-u0"]).shape == (198, 80)


def test_combine_refuses_features_of_other_options(tmp_path):
    d = _data_dir(tmp_path)
    prefix = tmp_path / "fbank" / "raw.1"
    compute_fbank_job(d, prefix, FbankConfig())
    FbankConfig(num_mel_bins=80).save(d / "conf" / "fbank.yaml")  # what the data dir says it holds
    with pytest.raises(AudioError, match="made with FBank options"):
        combine_feats(d, [prefix])
    assert not (d / "feats.scp").exists()
