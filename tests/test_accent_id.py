"""accent-id end to end on generated audio: every kind of input, every output format."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from accent.export import FILENAMES
from conftest import ACCENTS, damage, write_wav

ROOT = Path(__file__).resolve().parents[1]


def accent_id(*args: str, cwd: Path):
    return subprocess.run([sys.executable, "-m", "accent.cli.accent_id", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=300)


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    write_wav(d / "mono.wav", 1.0)
    write_wav(d / "stereo.wav", 1.0, channels=2, seed=1)
    write_wav(d / "rate8k.wav", 1.0, sample_rate=8000, seed=2)
    write_wav(d / "rate44k.wav", 1.0, sample_rate=44100, seed=3)
    write_wav(d / "short.wav", 0.1, seed=4)
    sf.write(d / "silent.wav", np.zeros(16000, np.float32), 16000)
    good = (d / "mono.wav").read_bytes()
    (d / "corrupt.wav").write_bytes(good[:20] + b"\xff" * 20 + good[40:])  # a mangled fmt chunk
    return d


@pytest.mark.slow
@pytest.mark.parametrize("model", ["exp", "onnx"])
def test_every_input_scored_or_named_with_its_problem(trained, inputs, tmp_path, model) -> None:
    exp = trained["crnn"]
    path = exp if model == "exp" else exp / "export" / FILENAMES["onnx"]
    r = accent_id("--model", path, "--json", inputs, cwd=tmp_path)
    assert r.returncode == 3, r.stderr  # some inputs were not scored (1 would be a crash)
    doc = json.loads(r.stdout)
    assert doc["labels"] == list(ACCENTS)
    res = {Path(x["id"]).name: x for x in doc["results"]}
    assert sorted(res) == sorted(p.name for p in inputs.iterdir())
    for name in ("mono.wav", "stereo.wav", "rate8k.wav", "rate44k.wav"):
        assert res[name]["status"] == "ok" and res[name]["accent"] in ACCENTS, res[name]
        assert sum(res[name]["posteriors"].values()) == pytest.approx(1.0, abs=1e-4)
    assert res["stereo.wav"]["notes"] == ["stereo -> mono"]
    assert res["rate8k.wav"]["notes"] == ["8000 Hz -> 16000 Hz"]
    assert res["rate44k.wav"]["notes"] == ["44100 Hz -> 16000 Hz"]
    assert res["short.wav"]["status"] == "too_short" and res["silent.wav"]["status"] == "silent"
    assert res["corrupt.wav"]["status"] == "error"
    err = r.stderr
    assert f"error: {inputs / 'corrupt.wav'}: cannot decode audio" in err
    assert f"too_short: {inputs / 'short.wav'}: too short (0.10 s" in err
    assert f"silent: {inputs / 'silent.wav'}: silent" in err
    assert f"note: {inputs / 'stereo.wav'}: stereo -> mono" in err
    assert "3 of 7 inputs not scored" in err


@pytest.mark.slow
def test_table_tsv_and_wav_scp_with_a_pipe(trained, tmp_path) -> None:
    a = write_wav(tmp_path / "a.wav", 1.3)
    b = write_wav(tmp_path / "b.wav", 0.9, seed=5)
    scp = tmp_path / "wav.scp"
    scp.write_text(f"utt-a {a}\nutt-b cat {b} |\n")
    ts = trained["transformer"] / "export" / FILENAMES["torchscript"]
    table = accent_id("--model", ts, scp, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["input", "accent", *ACCENTS]
    assert [line.split()[0] for line in lines[1:]] == ["utt-a", "utt-b"]
    assert all(line.split()[1] in ACCENTS for line in lines[1:])
    tsv = accent_id("--model", trained["transformer"], "--tsv", scp, a, cwd=tmp_path)
    assert tsv.returncode == 0, tsv.stderr
    rows = [line.split("\t") for line in tsv.stdout.splitlines()]
    assert rows[0] == ["id", "accent", *ACCENTS, "duration", "status", "message"]
    assert [row[0] for row in rows[1:]] == ["utt-a", "utt-b", str(a)]
    assert all(row[-2] == "ok" for row in rows[1:])
    # the same audio through a file path and a wav.scp entry: the same posteriors
    assert rows[1][2:2 + len(ACCENTS)] == rows[3][2:2 + len(ACCENTS)]


@pytest.mark.slow
def test_bad_model_or_missing_wav_scp_is_a_clear_error(trained, tmp_path) -> None:
    r = accent_id("--model", tmp_path / "nope", write_wav(tmp_path / "a.wav"), cwd=tmp_path)
    assert r.returncode == 2 and "nope: no such model" in r.stderr
    r = accent_id("--model", trained["jasper"], tmp_path / "missing.scp", cwd=tmp_path)
    assert r.returncode == 2 and "missing.scp: no such wav.scp" in r.stderr


@pytest.mark.slow
def test_a_damaged_model_is_refused_not_used(trained, tmp_path) -> None:
    wav = write_wav(tmp_path / "a.wav", 1.0)
    exp = tmp_path / "exp"
    exp.mkdir()
    damage(trained["crnn"] / "best.pt", exp / "best.pt")
    for model in (exp, damage(trained["crnn"] / "export" / FILENAMES["onnx"], tmp_path / "model.onnx")):
        r = accent_id("--model", model, wav, cwd=tmp_path)
        assert r.returncode == 2 and r.stdout == "", r.stdout
        assert "damaged" in r.stderr and "Traceback" not in r.stderr, r.stderr


@pytest.mark.parametrize("option, message", [
    (["--batch-size", "0"], "--batch-size: 0 must be at least 1"),
    (["--batch-size", "-1"], "--batch-size: -1 must be at least 1"),
    (["--threads", "-2"], "--threads: -2 must be at least 1"),
    (["--device", "banana"], "--device: 'banana' is not a device"),
    (["--chunk-seconds", "0"], "--chunk-seconds: 0 must be > 0"),
])
def test_bad_options_are_usage_errors(tmp_path, option, message) -> None:
    wav = write_wav(tmp_path / "a.wav", 1.0)
    r = accent_id("--model", tmp_path, *option, wav, cwd=tmp_path)
    assert r.returncode == 2 and "usage: accent-id" in r.stderr and message in r.stderr, r.stderr


def test_exit_statuses_are_documented() -> None:
    r = subprocess.run([sys.executable, "-m", "accent.cli.accent_id", "--help"], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
    text = " ".join(r.stdout.split())
    assert "Exit status: 0 every input scored; 3 some inputs not scored" in text and "1 accent-id itself crashed" in text


NO_TORCH_RUN = """
import json, sys
from accent.cli.accent_id import main
code = main(sys.argv[1:])
heavy = sorted(m for m in ("torch", "onnx", "onnxscript", "onnx_ir", "scipy", "tqdm") if m in sys.modules)
print(json.dumps({"exit": code, "heavy": heavy}), file=sys.stderr)
"""


@pytest.mark.slow
def test_waveform_onnx_scores_like_pytorch_without_torch(wav_exports, tmp_path) -> None:
    """accent-id --model model_wav.onnx imports neither torch nor onnx (nor scipy, for audio at
    the model's rate): and it gives the PyTorch checkpoint's labels and posteriors, chunked long
    files and --utt2spk groups included."""
    exp = wav_exports["transformer"]
    wavs = [write_wav(tmp_path / f"{i}.wav", s, seed=i) for i, s in enumerate([0.7, 3.1, 1.4, 2.2])]
    opts = ["--json", "--chunk-seconds", "1.0", "--batch-size", "3", *wavs]  # 3.1 s: 4 chunks
    r = subprocess.run([sys.executable, "-c", NO_TORCH_RUN, "--model", exp / "export" / FILENAMES["onnx_wav"],
                        *map(str, opts)], capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                       timeout=300, cwd=tmp_path)
    assert json.loads(r.stderr.strip().splitlines()[-1]) == {"exit": 0, "heavy": []}, r.stderr
    ref = accent_id("--model", exp, *opts, cwd=tmp_path)
    assert ref.returncode == 0, ref.stderr
    got, want = json.loads(r.stdout)["results"], json.loads(ref.stdout)["results"]
    assert [x["chunks"] for x in got] == [x["chunks"] for x in want] == [1, 4, 2, 3]
    for g, w in zip(got, want):
        assert g["accent"] == w["accent"]
        np.testing.assert_allclose(list(g["posteriors"].values()), list(w["posteriors"].values()), atol=1e-4)
    utt2spk = tmp_path / "utt2spk"
    utt2spk.write_text("".join(f"{w} spk{i % 2}\n" for i, w in enumerate(wavs)))
    groups = [accent_id("--model", model, "--tsv", "--utt2spk", utt2spk, *wavs, cwd=tmp_path)
              for model in (exp / "export" / FILENAMES["onnx_wav"], exp)]
    rows = [[line.split("\t") for line in g.stdout.splitlines()] for g in groups]
    assert [row[:2] for row in rows[0]] == [row[:2] for row in rows[1]] and len(rows[0]) == 3
    np.testing.assert_allclose(np.array([row[2:-1] for row in rows[0][1:]], float),
                               np.array([row[2:-1] for row in rows[1][1:]], float), atol=1e-4)


def test_help_imports_no_torch_and_shows_examples_and_defaults() -> None:
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "accent.cli.accent_id", "--help"],
                       capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.returncode == 0
    imported = {line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time")}
    assert imported and not imported & {"torch", "onnx", "onnxruntime", "numpy", "scipy"}
    assert "Examples:" in r.stdout and "accent-id --model exp/sarnet_circle/export/model_wav.onnx x.wav" in r.stdout
    text = " ".join(r.stdout.split())
    assert "chunks scored together (default: 8)" in text and "(default: 20.0)" in text and "(default: cpu)" in text


def test_version_is_the_package_version() -> None:
    from importlib.metadata import PackageNotFoundError, version

    import accent

    try:
        expected = version("accent")
    except PackageNotFoundError:
        expected = accent.__version__
    r = subprocess.run([sys.executable, "-m", "accent.cli.accent_id", "--version"], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.returncode == 0 and r.stdout == f"accent-id {expected}\n"


@pytest.mark.slow
def test_the_readmes_onnxruntime_snippet_runs_without_torch(wav_exports, tmp_path) -> None:
    """The README's 10 lines for ONNX Runtime users: numpy, soundfile and onnxruntime only, and
    the label accent-id gives."""
    readme = (ROOT / "README.md").read_text()
    blocks = [b.split("```", 1)[0] for b in readme.split("```python\n")[1:]]
    snippet = next(b for b in blocks if "onnxruntime as ort" in b and "model_wav.onnx" in b)
    assert len(snippet.strip().splitlines()) <= 10
    model = wav_exports["crnn"] / "export" / FILENAMES["onnx_wav"]
    wav = write_wav(tmp_path / "x.wav", 1.7, seed=11)
    code = snippet.replace("exp/demo_hybrid_mtl/export/model_wav.onnx", str(model)).replace('"x.wav"', repr(str(wav)))
    code += ("\nimport sys\nassert not {'torch', 'onnx', 'scipy', 'accent'} & set(sys.modules), "
             "sorted({'torch', 'onnx', 'scipy', 'accent'} & set(sys.modules))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    label = r.stdout.split()[0]
    ref = accent_id("--model", wav_exports["crnn"], "--tsv", wav, cwd=tmp_path)
    assert ref.returncode == 0 and label == ref.stdout.splitlines()[1].split("\t")[1]
