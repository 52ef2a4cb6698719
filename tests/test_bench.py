"""accent.bin.bench --quick: every encoder trains a few steps, through synthetic batches and the
real DataLoader, and the table reports parameters, throughput, memory and the data-wait share."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from accent.training.bench import QUICK_ENCODERS, bench_model
from conftest import make_corpus, tone, write_wav

pytestmark = pytest.mark.slow  # the benchmarks end to end

ROOT = Path(__file__).resolve().parents[1]


def test_bench_quick(tmp_path) -> None:
    corpus = make_corpus(tmp_path, spk_per_accent=1, utts_per_spk=4, dev_utts=1)
    out = tmp_path / "bench.json"
    r = subprocess.run(
        [sys.executable, "-m", "accent.bin.bench", "--quick", "--device", "cpu", "--data-dir", str(corpus["train"]),
         "--json", str(out)],
        capture_output=True, text=True, timeout=300, env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0].split()[:4] == ["size", "encoder", "device", "amp"] and "data wait" in lines[0]
    assert [line.split()[1] for line in lines[1:]] == ["jasper", "crnn", "transformer"]
    rows = json.loads(out.read_text())
    for row in rows:
        # the model benchmarked is the quick one of its encoder, with 8 accents on 40-dim features
        model = bench_model(QUICK_ENCODERS[row["encoder"]], 40, 8)
        assert row["params"] == sum(p.numel() for p in model.parameters()), row
        # --quick: one timed step of 2 utterances of 1 s, so audio per second times the step's time is 2 s
        assert row["audio_s_per_s"] * row["step_s"] == pytest.approx(2.0), row
        # the peak resident set (ru_maxrss, KiB) in MiB: a process that imported torch and trained a
        # model holds a few hundred (not KiB, not GiB)
        assert 100 < row["peak_mb"] < 4000, row
        assert row["loader_steps"] == 2 and 0 <= row["data_wait_frac"] < 1, row  # --quick: 2 timed batches


def test_bench_inference_times_every_backend(tmp_path) -> None:
    """accent.bin.bench_inference: the files it exports say what they take, and every backend is timed."""
    out = tmp_path / "inference.json"
    r = subprocess.run(
        [sys.executable, "-m", "accent.bin.bench_inference", "--sizes", "demo", "--encoders", "crnn", "--seconds", "1",
         "--batch", "2", "--threads", "1", "--min-time", "0.01", "--json", str(out)],
        capture_output=True, text=True, timeout=300, env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert r.returncode == 0, r.stderr
    rows = json.loads(out.read_text())
    assert sorted((row["backend"], row["batch"]) for row in rows) == [
        (b, n) for b in ("onnx", "pytorch", "torchscript") for n in (1, 2)]
    assert all(row["rtf"] > 0 and row["threads"] == 1 for row in rows)


def test_bench_fbank(tmp_path) -> None:
    """accent.bin.bench_fbank: every front end timed on speech, and compared with kaldi-native-fbank
    on the recordings of --real-audio."""
    import soundfile as sf

    for i, accent in enumerate(("US", "FR")):
        (tmp_path / "real" / accent).mkdir(parents=True)
        sf.write(tmp_path / "real" / accent / f"G{i}.flac", tone(1.5, 8000, seed=i), 8000)
    out = tmp_path / "fbank.json"
    r = subprocess.run(
        [sys.executable, "-m", "accent.bin.bench_fbank", "--seconds", "3", "--batch", "3", "--min-time", "0.01",
         "--real-audio", str(tmp_path / "real"), "--json", str(out)],
        capture_output=True, text=True, timeout=300, env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert r.returncode == 0, r.stderr
    assert "Fbank via compute_fbank, one utterance" in r.stdout and "kaldi-native-fbank, frame by frame" in r.stdout
    result = json.loads(out.read_text())[0]
    assert len(result["rows"]) == 7 and all(row["x real time"] > 0 for row in result["rows"])
    assert result["max_abs_diff_vs_knf_60dB"] < 1e-3
    assert [row["file"] for row in result["real_audio"]] == ["FR/G1.flac", "US/G0.flac"]
    assert all(row["sample_rate"] == 8000 and row["max_60dB_40"] < 1e-3 for row in result["real_audio"])


def test_bench_memory_measures_accent_id(tmp_path) -> None:
    """The memory benchmark end to end on two short inputs (the real one runs 10 min, 1 h, 4 h)."""
    out = tmp_path / "rows.json"
    r = subprocess.run([sys.executable, "-m", "accent.bin.bench_memory", "--minutes", "0.1", "1.5", "--workdir",
                        str(tmp_path / "w"), "--json", str(out)],
                       capture_output=True, text=True, timeout=600, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.returncode == 0, r.stderr
    assert "| 0.1 min |" in r.stdout and "| 1.5 min |" in r.stdout
    rows = json.loads(out.read_text())
    assert [row["status"] for row in rows] == [0, 0] and all(row["accent"] for row in rows)
    assert all(100 < row["peak_rss_mb"] < 4000 for row in rows)
    assert not list((tmp_path / "w").glob("*.wav"))  # inputs removed without --keep


def test_bench_accent_id_times_start_up_and_a_baseline_tree(tmp_path) -> None:
    """accent.bin.bench_accent_id on three files, with this tree as its own baseline (the same
    random model through model_wav.onnx and model.onnx: the same labels, posteriors to 1e-4)."""
    for i in range(3):
        write_wav(tmp_path / "audio" / f"{i}.wav", 1.0 + i, seed=i)
    out = tmp_path / "bench.json"
    r = subprocess.run([sys.executable, "-m", "accent.bin.bench_accent_id", "--workdir", str(tmp_path / "w"),
                        "--audio", str(tmp_path / "audio"), "--num-files", "3", "--repeats", "1",
                        "--baseline-tree", str(ROOT), "--json", str(out)],
                       capture_output=True, text=True, timeout=600, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.returncode == 0, r.stderr
    assert "end to end, 3 files:" in r.stdout and "the same label for 3 of 3 files" in r.stdout
    result = json.loads(out.read_text())[0]
    assert [row["case"] for row in result["rows"]] == ["bare import", "accent-id --help", "accent-id, 1 file",
                                                        "accent-id, 3 files", "baseline, 3 files"]
    assert all(row["wall_s"] > 0 and row["cpu_s"] > 0 for row in result["rows"])
    assert result["audio_seconds"] == pytest.approx(6.0) and result["max_posterior_difference"] < 1e-4
