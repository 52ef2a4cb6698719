"""AccentRecognizer: the Python API on real trained models and generated audio."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from accent.data.audio import AudioError
from accent.export import FILENAMES
from accent.features.fbank import FbankConfig, compute_fbank
from accent.inference.backends import experiment_checkpoint
from conftest import ACCENTS, tone, write_wav


@pytest.mark.slow
def test_import_accent_stays_light_and_the_recognizer_is_lazy() -> None:
    code = ("import sys, accent; assert 'torch' not in sys.modules, 'import accent loaded torch'; "
            "from accent import AccentRecognizer; print(AccentRecognizer.__module__); "
            "import accent.inference, accent.export, accent.export.model_file; "
            "print(sorted(m for m in ('torch', 'onnx', 'onnxscript', 'scipy') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:2] == ["accent.inference.recognizer", "[]"]


@pytest.mark.slow
@pytest.mark.parametrize("model", ["exp", "onnx", "torchscript"])
def test_predict_label_posteriors_embedding(trained, tmp_path, model) -> None:
    from accent import AccentRecognizer

    exp = trained["crnn"]
    path = exp if model == "exp" else exp / "export" / FILENAMES[model]
    r = AccentRecognizer.from_pretrained(path)
    p = r.predict(write_wav(tmp_path / "x.wav", 1.2))
    assert p.ok and p.label in ACCENTS and list(p.posteriors) == list(ACCENTS)
    assert sum(p.posteriors.values()) == pytest.approx(1.0, abs=1e-5)
    assert p.label == max(p.posteriors, key=p.posteriors.get)
    assert p.embedding.shape == (16,) and p.duration == pytest.approx(1.2) and p.chunks == 1 and p.notes == []
    # samples in memory at another rate, stereo: the same result as the resampled file, with notes
    stereo = tone(1.2, 22050, channels=2)
    q = r.predict(stereo, sample_rate=22050)
    assert q.notes == ["stereo -> mono", "22050 Hz -> 16000 Hz"]
    sf.write(tmp_path / "s.flac", stereo, 22050)
    f = r.predict(tmp_path / "s.flac")
    assert f.notes == q.notes
    np.testing.assert_allclose(list(f.posteriors.values()), list(q.posteriors.values()), atol=1e-3)
    with pytest.raises(ValueError, match="sample_rate"):
        r.predict(stereo)
    with pytest.raises(AudioError, match="missing.wav"):
        r.predict(tmp_path / "missing.wav")


@pytest.mark.slow
def test_long_audio_is_scored_in_chunks_and_pooled_by_duration(trained, tmp_path) -> None:
    from accent import AccentRecognizer

    r = AccentRecognizer.from_pretrained(trained["transformer"], chunk_seconds=1.0)
    wav = write_wav(tmp_path / "long.wav", 2.5, seed=3)
    p = r.predict(wav)
    assert p.ok and p.chunks == 3
    # by hand: equal thirds of the features, each scored alone, averaged by frame count
    feats = compute_fbank(sf.read(wav, dtype="float32")[0], 16000, FbankConfig())
    parts = np.array_split(feats, 3)
    post = [r.backend(c[None], np.array([len(c)]))[0][0] for c in parts]
    expected = sum(len(c) * q for c, q in zip(parts, post)) / len(feats)
    np.testing.assert_allclose(list(p.posteriors.values()), expected, atol=1e-6)
    with pytest.raises(ValueError, match="chunk_seconds"):
        AccentRecognizer.from_pretrained(trained["transformer"], chunk_seconds=0.3)


@pytest.mark.slow
def test_silent_short_and_broken_inputs_give_messages_not_exceptions(trained, tmp_path) -> None:
    from accent import AccentRecognizer

    r = AccentRecognizer.from_pretrained(trained["jasper"])
    sf.write(tmp_path / "silent.wav", np.zeros(16000, np.float32), 16000)
    (tmp_path / "broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk")
    inputs = {"ok": str(write_wav(tmp_path / "ok.wav", 1.0)), "short": str(write_wav(tmp_path / "short.wav", 0.1)),
              "silent": str(tmp_path / "silent.wav"), "broken": str(tmp_path / "broken.wav")}
    preds = {p.id: p for p in r.predict_many(inputs, batch_size=2)}
    assert list(preds) == list(inputs)
    assert preds["ok"].ok
    assert preds["short"].status == "too_short" and "0.10 s" in preds["short"].message
    assert f"at least {r.min_seconds:.2f} s" in preds["short"].message
    assert preds["silent"].status == "silent" and "silent" in preds["silent"].message
    assert preds["broken"].status == "error" and "broken.wav" in preds["broken"].message
    assert all(p.label is None and p.posteriors == {} for k, p in preds.items() if k != "ok")


@pytest.mark.slow
def test_batched_prediction_equals_one_at_a_time(trained, tmp_path) -> None:
    from accent import AccentRecognizer

    r = AccentRecognizer.from_pretrained(trained["crnn"], chunk_seconds=2.0)
    wavs = [write_wav(tmp_path / f"{i}.wav", s, seed=i) for i, s in enumerate([0.7, 3.1, 1.4, 0.5, 2.2])]
    batched = list(r.predict_many(wavs, batch_size=4))
    assert [p.id for p in batched] == [str(w) for w in wavs]
    for w, p in zip(wavs, batched):
        one = r.predict(w)
        np.testing.assert_allclose(list(p.posteriors.values()), list(one.posteriors.values()), atol=1e-5)
        np.testing.assert_allclose(p.embedding, one.embedding, atol=1e-4)


@pytest.mark.slow
def test_experiment_dir_uses_the_average_when_the_config_asks(trained, tmp_path) -> None:
    exp = tmp_path / "exp"
    shutil.copytree(trained["crnn"], exp)
    assert experiment_checkpoint(exp) == exp / "best.pt"
    text = (exp / "config.yaml").read_text().replace("average_last: 0", "average_last: 2")
    (exp / "config.yaml").write_text(text)
    assert experiment_checkpoint(exp) == exp / "best.pt"  # asked for, but not written (yet)
    shutil.copy(exp / "best.pt", exp / "avg_2.pt")
    assert experiment_checkpoint(exp) == exp / "avg_2.pt"
    assert experiment_checkpoint(exp, "last.pt") == exp / "last.pt"


@pytest.mark.slow
def test_old_checkpoint_without_frontend_uses_defaults_with_a_note(trained, tmp_path) -> None:
    from accent import AccentRecognizer

    ckpt = torch.load(trained["crnn"] / "best.pt", map_location="cpu", weights_only=True)
    del ckpt["frontend"]
    torch.save(ckpt, tmp_path / "old.pt")
    r = AccentRecognizer.from_pretrained(tmp_path / "old.pt")
    assert r.frontend == FbankConfig() and "does not record its FBank options" in r.notes[0]
    assert r.predict(write_wav(tmp_path / "x.wav", 1.0)).ok


@pytest.mark.slow
def test_long_files_are_streamed_block_by_block_with_the_whole_file_result(trained, tmp_path, monkeypatch) -> None:
    """Memory used to grow with the input's length (the whole file decoded, resampled and
    featurised at once).  Now a long file is read in blocks; the result is that of the whole file."""
    from accent import AccentRecognizer
    import accent.inference.recognizer as recognizer

    path = tmp_path / "long.wav"
    sf.write(path, tone(25.3, 22050, channels=2, seed=7), 22050)  # resampled and down-mixed too
    whole = AccentRecognizer.from_pretrained(trained["crnn"], chunk_seconds=4.0, stream_seconds=float("inf"))
    expected = whole.predict(path)

    def no_whole_file(*args, **kwargs):
        raise AssertionError("the long file was decoded whole")

    monkeypatch.setattr(recognizer, "load_audio", no_whole_file)
    streamed = AccentRecognizer.from_pretrained(trained["crnn"], chunk_seconds=4.0, stream_seconds=10.0,
                                                block_seconds=3.3)
    for got in (streamed.predict(path), next(iter(streamed.predict_many([path], batch_size=2)))):
        assert got.ok and got.label == expected.label and got.chunks == expected.chunks == 7
        assert got.notes == expected.notes == ["stereo -> mono", "22050 Hz -> 16000 Hz"]
        assert got.duration == pytest.approx(expected.duration)
        np.testing.assert_allclose(list(got.posteriors.values()), list(expected.posteriors.values()), atol=1e-5)
        np.testing.assert_allclose(got.embedding, expected.embedding, atol=1e-4)


def test_streamed_chunks_are_the_whole_files_samples(tmp_path) -> None:
    from accent.inference.audio import chunk_sizes, chunk_spans, load_audio, stream_chunks, stream_info

    cfg = FbankConfig()
    for rate, channels in ((16000, 1), (44100, 2), (8000, 1)):
        path = tmp_path / f"{rate}.wav"
        sf.write(path, tone(3.7, rate, channels=channels, seed=rate), rate)
        whole = load_audio(str(path), 16000).samples
        feats = compute_fbank(whole, 16000, cfg)
        sizes = chunk_sizes(len(feats), 97)
        assert sum(sizes) == len(feats) and max(sizes) <= 97 and max(sizes) - min(sizes) <= 1
        spans = chunk_spans(sizes, cfg)
        for block in (0.11, 1.0, 10.0):
            chunks = list(stream_chunks(stream_info(str(path), 16000), 16000, spans, block_seconds=block))
            assert [len(c) for c in chunks] == [hi - lo for lo, hi in spans]
            for c, (lo, hi) in zip(chunks, spans):  # resampled block-wise: equal to float32 rounding
                np.testing.assert_allclose(c, whole[lo:hi], rtol=0, atol=1e-6)
            # each chunk's FBank is its frames of the whole file's (the matrix products may round
            # the last bit differently with another number of frames per call)
            np.testing.assert_allclose(np.concatenate([compute_fbank(c, 16000, cfg) for c in chunks]), feats,
                                       rtol=0, atol=1e-5)


@pytest.mark.slow
def test_waveform_model_streams_and_chunks_like_the_pytorch_model(wav_exports, tmp_path) -> None:
    """model_wav.onnx is given each chunk's samples, long files block by block: the result of the
    features-in PyTorch model on the whole file."""
    from accent import AccentRecognizer

    path = tmp_path / "long.wav"
    sf.write(path, tone(25.3, 22050, channels=2, seed=7), 22050)
    exp = wav_exports["crnn"]
    expected = AccentRecognizer.from_pretrained(exp, chunk_seconds=4.0, stream_seconds=float("inf")).predict(path)
    onnx_wav = exp / "export" / FILENAMES["onnx_wav"]
    for stream_seconds in (float("inf"), 10.0):
        r = AccentRecognizer.from_pretrained(onnx_wav, chunk_seconds=4.0, stream_seconds=stream_seconds,
                                             block_seconds=3.3)
        assert r.input == "waveform"
        got = r.predict(path)
        assert got.ok and got.label == expected.label and got.chunks == expected.chunks == 7
        np.testing.assert_allclose(list(got.posteriors.values()), list(expected.posteriors.values()), atol=1e-4)
        np.testing.assert_allclose(got.embedding, expected.embedding, atol=1e-4)


@pytest.mark.slow
def test_samples_on_the_int16_scale_are_scaled_or_refused(trained) -> None:
    """int16 arrays are PCM (divided by 32768); floats far beyond 1 would give wrong accents silently."""
    from accent import AccentRecognizer

    r = AccentRecognizer.from_pretrained(trained["crnn"])
    x = tone(1.2)
    pcm = np.round(x * 32767).astype(np.int16)
    unit = r.predict(pcm.astype(np.float32) / 32768, sample_rate=16000)
    np.testing.assert_allclose(list(r.predict(pcm, sample_rate=16000).posteriors.values()),
                               list(unit.posteriors.values()), atol=1e-6)
    with pytest.raises(AudioError, match="expected floats in \\[-1, 1\\].*divide them by 32768"):
        r.predict(pcm.astype(np.float32), sample_rate=16000)


@pytest.mark.slow
def test_a_truncated_wav_is_scored_with_a_note(trained, tmp_path) -> None:
    from accent import AccentRecognizer

    good = write_wav(tmp_path / "good.wav", 1.5)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(good.read_bytes()[:-8000])  # the header still promises all the samples
    p = AccentRecognizer.from_pretrained(trained["crnn"]).predict(cut)
    assert p.ok and p.duration == pytest.approx(1.25)
    assert p.notes == ["truncated audio (header promises 48000 data bytes, file holds 40000): scored what there is"]
