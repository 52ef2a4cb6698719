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
