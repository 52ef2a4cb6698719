"""Stage 7: TorchScript and ONNX export of trained models, parity with PyTorch on real audio.

Three tiny models are trained for real (generated audio -> FBank -> Trainer), one per encoder
family, together covering the poolings with recurrent, attentive and transformer parts, both
CMVN modes and the hybrid system's frozen reference encoder with concat_ca fusion: the session
fixture ``trained`` of tests/conftest.py, shared with tests/test_inference.py and tests/test_accent_id.py;
so is ``wav_exports``, the waveform-in files (FBank inside) of two of them, one per CMVN mode.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from accent.export import FILENAMES, read_metadata
from accent.features.fbank import FbankConfig, compute_fbank
from accent.inference.backends import OnnxBackend, TorchBackend, TorchScriptBackend
from accent.training import load_model
from conftest import ACCENTS, EXPORT_CMVN, EXPORT_MODELS, WAV_FAMILIES, WAV_FORMATS, accent_signal, damage

pytestmark = pytest.mark.slow  # the session fixture trained (models trained and exported)

ROOT = Path(__file__).resolve().parents[1]

def real_batch(seconds=(1.3, 0.6, 2.2)):
    """FBank of generated accent-like audio, padded into one batch."""
    feats = [compute_fbank(accent_signal(i % len(ACCENTS), s, seed=100 + i).astype(np.float32), 16000, FbankConfig())
             for i, s in enumerate(seconds)]
    lengths = np.array([len(f) for f in feats], dtype=np.int64)
    batch = np.zeros((len(feats), lengths.max(), feats[0].shape[1]), np.float32)
    for i, f in enumerate(feats):
        batch[i, :len(f)] = f
    return feats, batch, lengths


@pytest.mark.parametrize("family", list(EXPORT_MODELS))
def test_exported_models_agree_with_pytorch_on_real_audio(trained, family) -> None:
    exp = trained[family]
    feats, batch, lengths = real_batch()
    torch_post, torch_emb = TorchBackend(exp / "best.pt")(batch, lengths)
    # the inference graph is the model as trained and evaluated: forward() on one raw utterance
    model, ckpt = load_model(exp / "best.pt")
    assert ckpt["config"]["data"]["cmvn"] == EXPORT_CMVN[family]
    with torch.no_grad():
        for i, f in enumerate(feats):
            _, out = model({"feats": torch.from_numpy(f)[None], "lengths": torch.tensor([len(f)])})
            np.testing.assert_allclose(torch_post[i], torch.softmax(out["logits"], -1)[0].numpy(), atol=1e-5)
            np.testing.assert_allclose(torch_emb[i], out["embedding"][0].numpy(), atol=1e-4)
    assert np.allclose(torch_post.sum(1), 1.0, atol=1e-5)
    for backend in (TorchScriptBackend(exp / "export" / FILENAMES["torchscript"]),
                    OnnxBackend(exp / "export" / FILENAMES["onnx"])):
        post, emb = backend(batch, lengths)
        np.testing.assert_allclose(post, torch_post, atol=1e-4, err_msg=backend.kind)
        np.testing.assert_allclose(emb, torch_emb, atol=1e-4, err_msg=backend.kind)
        # batch and time axes are dynamic: one utterance alone, other lengths than traced
        alone, _ = backend(feats[1][None], lengths[1:2])
        np.testing.assert_allclose(alone[0], torch_post[1], atol=1e-4, err_msg=backend.kind)


def real_waveforms(seconds=(1.3, 0.6037, 2.2)):
    """Generated accent-like audio (float32 in [-1, 1]; lengths off the frame grid), padded into one batch."""
    waves = [accent_signal(i % len(ACCENTS), s, seed=100 + i).astype(np.float32) for i, s in enumerate(seconds)]
    lengths = np.array([len(w) for w in waves], dtype=np.int64)
    batch = np.zeros((len(waves), lengths.max()), np.float32)
    for i, w in enumerate(waves):
        batch[i, :len(w)] = w
    return waves, batch, lengths


@pytest.mark.parametrize("family", WAV_FAMILIES)
def test_waveform_exports_agree_with_pytorch_on_real_audio(wav_exports, family) -> None:
    """Waveform in, FBank and CMVN inside: the posteriors of the features-in PyTorch graph on
    compute_fbank of each utterance alone, to 1e-4, whatever the padding of the batch."""
    exp = wav_exports[family]
    waves, batch, lengths = real_waveforms()
    ref = TorchBackend(exp / "best.pt")
    cfg = FbankConfig()
    expected = [ref(compute_fbank(w, 16000, cfg)[None], np.array([cfg.num_frames(len(w))])) for w in waves]
    for fmt in WAV_FORMATS:
        path = exp / "export" / FILENAMES[fmt]
        backend = OnnxBackend(path) if fmt == "onnx_wav" else TorchScriptBackend(path)
        assert backend.input == "waveform"
        post, emb = backend(batch, lengths)
        for i, (p, e) in enumerate(expected):
            np.testing.assert_allclose(post[i], p[0], atol=1e-4, err_msg=fmt)
            np.testing.assert_allclose(emb[i], e[0], atol=1e-4, err_msg=fmt)
        alone, _ = backend(waves[1][None], lengths[1:2])  # another batch size and length than traced
        np.testing.assert_allclose(alone[0], expected[1][0][0], atol=1e-4, err_msg=fmt)


def test_exported_files_are_self_contained_and_say_what_they_take(wav_exports) -> None:
    exp = wav_exports["crnn"]
    files = sorted(p.name for p in (exp / "export").iterdir())
    assert files == sorted(FILENAMES.values())  # no external-data sidecar, no temp files
    for fmt, name in FILENAMES.items():
        meta = read_metadata(exp / "export" / name)
        assert meta["labels"] == list(ACCENTS)
        assert FbankConfig.from_dict(meta["frontend"]) == FbankConfig() and meta["frontend_note"] is None
        assert meta["encoder"] == "crnn" and meta["cmvn"] == "utterance" and meta["min_frames"] >= 25
        spec = meta["input"]
        if fmt.endswith("_wav"):  # the scale and rate that a user of the file must give it
            assert spec["kind"] == "waveform" and spec["names"] == ["waveform", "num_samples"]
            assert spec["dtype"] == "float32" and spec["scale"] == [-1.0, 1.0] and spec["sample_rate"] == 16000
            assert spec["min_samples"] == (meta["min_frames"] - 1) * 160 + 400
            assert "in [-1, 1]" in spec["description"] and "16000 Hz" in spec["description"]
        else:  # the FBank scale the features must be computed on
            assert spec["kind"] == "feats" and spec["fbank_scale"] == "int16" and "int16 scale" in spec["description"]
    import onnx

    model = onnx.load(str(exp / "export" / FILENAMES["onnx_wav"]))
    assert [i.name for i in model.graph.input] == ["waveform", "num_samples"]
    assert "in [-1, 1]" in model.graph.input[0].doc_string  # what Netron shows


def test_export_cli_writes_checked_files(trained, tmp_path) -> None:
    exp = trained["transformer"]
    r = subprocess.run([sys.executable, "-m", "accent.bin.export", "--exp-dir", str(exp), "--out-dir",
                        str(tmp_path / "out"), "--format", "torchscript"],
                       capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=300)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["checkpoint"] == str(exp / "best.pt")
    assert report["files"]["torchscript"]["max_difference"] <= 1e-4
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [FILENAMES["torchscript"]]
    # a directory without a trained model is refused with a clear message
    bad = subprocess.run([sys.executable, "-m", "accent.bin.export", "--exp-dir", str(tmp_path / "none")],
                         capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    assert bad.returncode != 0 and "no best.pt" in bad.stderr


def test_a_killed_export_leaves_no_model_file(trained, tmp_path) -> None:
    """Killed while checking parity: the model must not be in place (run.sh stage 7 would take it
    for finished).  The check is where the export dies, by SIGKILL, as an OOM killer would."""
    exp = trained["crnn"]
    out = tmp_path / "out"
    script = ("import os, signal, sys\n"
              "import accent.export.exporter as e\n"
              "e.max_difference = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)\n"
              "from accent.bin.export import main\n"
              f"sys.argv = ['export', '--exp-dir', {str(exp)!r}, '--out-dir', {str(out)!r}, '--format', 'onnx']\n"
              "main()\n")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=300)
    assert r.returncode == -9, r.stderr
    assert not (out / FILENAMES["onnx"]).exists()


def test_a_failed_parity_check_leaves_no_file(trained, tmp_path) -> None:
    exp = trained["crnn"]
    r = subprocess.run([sys.executable, "-m", "accent.bin.export", "--exp-dir", str(exp), "--out-dir",
                        str(tmp_path / "out"), "--format", "torchscript", "--tolerance", "-1"],
                       capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=300)
    assert r.returncode != 0 and "differs from PyTorch" in r.stderr, r.stderr
    assert list((tmp_path / "out").iterdir()) == []  # neither the model nor its temporary file


@pytest.mark.parametrize("name", ["model.onnx", "model.torchscript.pt", "best.pt"])
@pytest.mark.parametrize("where", [0.3, 0.7])
def test_a_damaged_model_file_is_refused_with_its_path(trained, tmp_path, name, where) -> None:
    """Flipped bytes in a weight tensor used to load and give confident wrong posteriors."""
    from accent.inference.backends import open_model
    from accent.utils.integrity import DamagedFileError

    exp = trained["crnn"]
    src = exp / name if name == "best.pt" else exp / "export" / name
    open_model(src)  # intact: loads
    bad = damage(src, tmp_path / name, where)
    with pytest.raises(DamagedFileError, match=f"^{bad}: damaged"):
        open_model(bad)
    if name != "best.pt":
        with pytest.raises(DamagedFileError, match=f"^{bad}: damaged"):
            read_metadata(bad)
    # a truncated file as well
    bad.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    with pytest.raises(DamagedFileError, match=f"^{bad}: damaged or truncated"):
        open_model(bad)


def test_an_onnx_file_without_checksum_is_refused(trained, tmp_path) -> None:
    import onnx

    model = onnx.load(str(trained["crnn"] / "export" / FILENAMES["onnx"]))
    keep = [p for p in model.metadata_props if p.key != "accent_sha256"]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    onnx.save_model(model, str(tmp_path / "model.onnx"))
    from accent.inference.backends import open_model

    with pytest.raises(ValueError, match="no accent_sha256 checksum"):
        open_model(tmp_path / "model.onnx")
