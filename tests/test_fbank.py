"""FBank: the torch front end against kaldi-native-fbank, batching, export; jobs: atomic outputs,
resume, and every failure named."""

import functools
import os

import kaldiio
import numpy as np
import pytest

from accent.data.audio import AudioError, read_wav_scp_entry
from accent.data.kaldi_dir import read_mapping, write_data_dir
from accent.features.cmvn import compute_global_cmvn, mean_std
import torch

from accent.features.bench import knf_fbank
from accent.features.fbank import Fbank, FbankConfig, combine_feats, compute_fbank, compute_fbank_job
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


@functools.lru_cache(maxsize=None)
def _speech16k() -> np.ndarray:
    """A demo-corpus-like utterance: espeak-ng speech in a noisy, band-limited, reverberant room,
    stored as 16-bit PCM as the corpora are."""
    from accent.demo.channel import ChannelProfile, apply_channel
    from accent.demo.espeak import Voice, synthesize

    clean = synthesize("Please call Stella. Ask her to bring these things with her from the store.",
                       Voice("en-us", "f2", pitch=60))
    room = ChannelProfile(level_dbfs=-26.0, highpass_hz=80.0, lowpass_hz=6000.0, tilt=0.1, snr_db=20.0,
                          noise_kinds=("pink", "hum"), reverb_prob=1.0, reverb_rt60=0.3, reverb_wet=0.2)
    x = apply_channel(clean, room, np.random.default_rng(0))
    return np.round(x * 32767) / 32768


def _signal(kind: str, sample_rate: int, seconds: float = 2.0) -> np.ndarray:
    if kind == "tone":
        return tone(seconds, sample_rate, seed=3).astype(np.float32)
    if kind == "noise":  # white noise over digital silence: the log floor's neighbourhood too
        x = 0.05 * np.random.default_rng(1).standard_normal(int(seconds * sample_rate))
        x[: sample_rate // 4] = 0.0
        return x.astype(np.float32)
    from scipy.signal import resample_poly

    x = _speech16k()
    return (x if sample_rate == 16000 else resample_poly(x, sample_rate, 16000)).astype(np.float32)


CONFIGS = [
    {},
    {"num_mel_bins": 80},
    {"sample_rate": 8000},
    {"sample_rate": 8000, "num_mel_bins": 80, "snip_edges": False},
    {"snip_edges": False},
    {"low_freq": 100.0, "high_freq": -400.0},  # negative high_freq: an offset from Nyquist
    {"low_freq": 0.0, "high_freq": 7000.0},
    {"sample_rate": 8000, "low_freq": 60.0, "high_freq": 3800.0, "frame_length_ms": 20.0, "frame_shift_ms": 12.5},
]


@pytest.mark.parametrize("options", CONFIGS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default")
@pytest.mark.parametrize("kind", ["tone", "noise", "speech"])
def test_fbank_agrees_with_kaldi_native_fbank(options, kind):
    cfg = FbankConfig(**options)
    x = _signal(kind, cfg.sample_rate)
    length, shift = cfg.window_samples()
    for n in (len(x), len(x) - 77, length, length + shift - 1, length + shift):
        ref = knf_fbank(x[:n], cfg)
        feats = compute_fbank(x[:n], cfg.sample_rate, cfg)
        assert feats.dtype == np.float32 and feats.shape == ref.shape == (cfg.num_frames(n), cfg.num_mel_bins)
        assert np.abs(feats - ref).max() <= 1e-3, (n, np.abs(feats - ref).max())


def test_fbank_short_input():
    cfg = FbankConfig()
    x = tone(0.1).astype(np.float32)
    assert compute_fbank(x[:400], 16000, cfg).shape == (1, 40)  # exactly one frame
    with pytest.raises(AudioError, match="399 samples is shorter than one 25.0 ms frame"):
        compute_fbank(x[:399], 16000, cfg)
    # without snip_edges, frames are centred on multiples of the shift and the signal mirrored at its ends
    edges = FbankConfig(snip_edges=False)
    for n in (80, 100, 239, 240, 399):
        feats = compute_fbank(x[:n], 16000, edges)
        assert feats.shape == ((n + 80) // 160, 40) and np.abs(feats - knf_fbank(x[:n], edges)).max() <= 1e-3
    with pytest.raises(AudioError, match="shorter than one"):
        compute_fbank(x[:79], 16000, edges)


@pytest.mark.parametrize("snip_edges", [True, False])
def test_fbank_batch_equals_one_by_one(snip_edges):
    """Batched features equal each utterance's own, whatever its padding holds; padded frames are zero."""
    cfg = FbankConfig(snip_edges=snip_edges)
    fbank = Fbank(cfg)
    lengths = [16000, 12345, 400, 399, 90]
    wave = 0.3 * torch.randn(len(lengths), max(lengths), generator=torch.Generator().manual_seed(0))  # junk padding
    for i, n in enumerate(lengths):
        wave[i, :n] = torch.from_numpy(tone(n / 16000 + 1e-6, seed=i)[:n])
    feats, frame_lengths = fbank(wave, torch.tensor(lengths))
    assert feats.shape == (len(lengths), cfg.num_frames(max(lengths)), 40)
    assert frame_lengths.tolist() == [cfg.num_frames(n) for n in lengths]
    for i, n in enumerate(lengths):
        t = cfg.num_frames(n)
        if t:
            one = compute_fbank(wave[i, :n].numpy(), 16000, cfg)
            np.testing.assert_allclose(feats[i, :t].numpy(), one, atol=1e-4, rtol=0)
        assert (feats[i, t:] == 0).all()
    zero_padded = torch.zeros_like(wave)
    for i, n in enumerate(lengths):
        zero_padded[i, :n] = wave[i, :n]
    torch.testing.assert_close(fbank(zero_padded, torch.tensor(lengths))[0], feats, atol=1e-4, rtol=0)
    full, full_lengths = fbank(wave)  # no lengths: every row is N samples long
    assert full_lengths.tolist() == [cfg.num_frames(max(lengths))] * len(lengths)
    torch.testing.assert_close(full[0], feats[0], atol=0, rtol=0)


def test_fbank_dither():
    """Kaldi's dither: Gaussian noise of ``dither`` int16 steps added to each frame; seeded by a generator."""
    cfg = FbankConfig(dither=1.0)
    fbank = Fbank(cfg)
    x = torch.from_numpy(_signal("noise", 16000)).unsqueeze(0)
    a = fbank(x, generator=torch.Generator().manual_seed(1))[0]
    b = fbank(x, generator=torch.Generator().manual_seed(1))[0]
    c = fbank(x, generator=torch.Generator().manual_seed(2))[0]
    torch.testing.assert_close(a, b, atol=0, rtol=0)
    plain = Fbank(FbankConfig())(x)[0]
    silent = slice(0, 22)  # the first 0.25 s are digital silence: floored at log(FLT_EPSILON) without dither
    assert (plain[0, silent] == np.log(np.finfo(np.float32).eps)).all()
    # dither lifts them to the level of unit-variance noise, as kaldi-native-fbank's own dither does
    ref = knf_fbank(x[0].numpy(), cfg)
    assert abs(float(a[0, silent].mean()) - float(ref[silent].mean())) < 0.1
    assert not torch.equal(a, c) and (a[0, 30:] - plain[0, 30:]).abs().max() < 1e-2


def test_fbank_float32_under_autocast():
    """Inside a mixed-precision training step the features stay those of float32."""
    fbank = Fbank()
    wave = torch.from_numpy(_signal("speech", 16000)).unsqueeze(0)
    ref = fbank(wave)[0]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        feats = fbank(wave)[0]
    assert feats.dtype == torch.float32
    torch.testing.assert_close(feats, ref, atol=1e-5, rtol=0)


def test_fbank_bad_options():
    with pytest.raises(ValueError, match="high_freq 9000.0"):
        Fbank(FbankConfig(high_freq=9000.0))
    with pytest.raises(ValueError, match="resolved 20 to -100 Hz"):
        Fbank(FbankConfig(sample_rate=8000, high_freq=-4100.0))
    with pytest.raises(ValueError, match="at least 3 mel bins"):
        Fbank(FbankConfig(num_mel_bins=2))
    with pytest.raises(ValueError, match="batch, samples"):
        Fbank()(torch.zeros(16000))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning", "ignore::UserWarning")
def test_fbank_scripts_and_exports_to_onnx(tmp_path):
    """TorchScript (scripted) and ONNX (dynamic batch and length) compute what the module does."""
    import onnxruntime as ort

    fbank = Fbank(FbankConfig(snip_edges=False)).eval()
    wave = 0.2 * torch.randn(3, 9000, generator=torch.Generator().manual_seed(0))
    lengths = torch.tensor([9000, 7000, 3001])
    ref = fbank(wave, lengths)
    scripted = torch.jit.script(fbank)
    for out, exp in zip(scripted(wave, lengths), ref):
        torch.testing.assert_close(out, exp, atol=1e-4, rtol=0)
    example = (0.2 * torch.randn(2, 4000), torch.tensor([4000, 2500]))
    batch, samples = torch.export.Dim("batch", max=1024), torch.export.Dim("samples", min=400, max=10**8)
    program = torch.onnx.export(fbank, example, dynamo=True, dynamic_shapes=({0: batch, 1: samples}, {0: batch}),
                                input_names=["waveform", "lengths"], verbose=False)
    session = ort.InferenceSession(program.model_proto.SerializeToString(), providers=["CPUExecutionProvider"])
    feats, frame_lengths = session.run(None, {"waveform": wave.numpy(), "lengths": lengths.numpy()})
    np.testing.assert_allclose(feats, ref[0].numpy(), atol=1e-3, rtol=0)
    assert frame_lengths.tolist() == ref[1].tolist()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_fbank_cuda_equals_cpu():
    fbank = Fbank()
    wave = 0.2 * torch.randn(4, 32000, generator=torch.Generator().manual_seed(0))
    lengths = torch.tensor([32000, 20000, 16000, 401])
    ref = fbank(wave, lengths)
    out = fbank.to("cuda")(wave.cuda(), lengths.cuda())
    torch.testing.assert_close(out[0].cpu(), ref[0], atol=1e-3, rtol=0)
    assert out[1].tolist() == ref[1].tolist()


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
    mean, std = mean_std(stats)
    np.testing.assert_allclose(mean, allf.mean(0), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(std, allf.std(0), rtol=1e-4, atol=1e-4)


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
