"""Peak memory (RSS) of ``accent-id`` by input length: is it bounded, whatever the length?

Each input is a generated 16-bit WAV of speech-like noise (written block by block, so the
benchmark itself stays small), scored by a fresh ``accent-id`` process; its peak RSS is the
kernel's ``ru_maxrss`` of that child (``os.wait4``).  Without a model, a demo-size CRNN accent
model with random weights is saved first: the audio path (decoding, resampling, FBank, chunking)
is what grows with the input, not the model.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np


def random_model(path: Path, encoder: str = "crnn") -> Path:
    """A demo-size accent checkpoint with random weights (what ``--model`` needs: labels, FBank
    options), saved like a trained one."""
    import torch

    from accent.data.aesrc import AESRC_ACCENTS
    from accent.features.fbank import FbankConfig
    from accent.models.build import build_model
    from accent.models.checkpoint import FORMAT, save_checkpoint
    from accent.models.zoo import DEMO_ENCODERS

    torch.manual_seed(0)
    # what load_model and the metadata read of a config (a trained model's holds every key)
    cfg = {"task": "accent", "model": {"encoder": dict(DEMO_ENCODERS[encoder]), "pooling": "stats", "embed_dim": 64,
                                       "ctc_weight": 0.0},
           "data": {"cmvn": "utterance", "max_frames": 20000}}
    labels = list(AESRC_ACCENTS)
    model = build_model(cfg, 40, labels, None)
    save_checkpoint({"format": FORMAT, "config": cfg, "task": "accent", "labels": labels, "units": None,
                     "frontend": FbankConfig().to_dict(), "input_dim": 40, "model": model.state_dict(),
                     "epoch": 0}, path)
    return path


def write_long_wav(path: Path, seconds: float, sample_rate: int = 16000, block_seconds: float = 60.0) -> Path:
    """Noise under a syllable-rate envelope with a wandering pitch, written block by block."""
    import soundfile as sf

    rng = np.random.default_rng(0)
    total = int(seconds * sample_rate)
    with sf.SoundFile(path, "w", samplerate=sample_rate, channels=1, subtype="PCM_16") as f:
        for start in range(0, total, int(block_seconds * sample_rate)):
            n = min(int(block_seconds * sample_rate), total - start)
            t = (start + np.arange(n)) / sample_rate
            envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4.0 * t)
            pitch = 120.0 + 30.0 * np.sin(2 * np.pi * 0.1 * t)
            voiced = np.sin(2 * np.pi * np.cumsum(pitch) / sample_rate)
            f.write((0.1 * envelope * (voiced + 0.3 * rng.standard_normal(n))).astype(np.float32))
    return path


def measure(cmd: Sequence[str], stdout: Path, env: Optional[Dict[str, str]] = None,
            cwd: Optional[Path] = None) -> Dict[str, Any]:
    """Run ``cmd`` (stdout to a file); its exit status, wall time, CPU time (user + system) and
    peak RSS in MB, from the kernel's accounting of that one child (``os.wait4``)."""
    t0 = time.perf_counter()
    with open(stdout, "wb") as out:
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.DEVNULL, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return {"status": proc.returncode, "wall_s": time.perf_counter() - t0, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_mb": usage.ru_maxrss / 1024.0}


def benchmark(minutes: Sequence[float], workdir: Path, model: Optional[str] = None,
              extra: Sequence[str] = (), keep: bool = False) -> List[Dict[str, Any]]:
    """One row per input length: ``minutes``, ``peak_rss_mb``, ``wall_s``, ``status``, ``accent``."""
    workdir.mkdir(parents=True, exist_ok=True)
    model = model or str(random_model(workdir / "random_crnn.pt"))
    rows = []
    for m in minutes:
        wav = write_long_wav(workdir / f"input_{m:g}min.wav", 60.0 * m)
        out = workdir / f"output_{m:g}min.json"
        res = measure([sys.executable, "-m", "accent.cli.accent_id", "--model", model, "--json", *extra, str(wav)], out)
        label = None
        try:
            label = json.loads(out.read_text())["results"][0]["accent"]
        except (ValueError, KeyError, IndexError):
            pass
        rows.append({"minutes": m, "peak_rss_mb": round(res["peak_rss_mb"], 1), "wall_s": round(res["wall_s"], 1),
                     "status": res["status"], "accent": label, "file_mb": round(wav.stat().st_size / 2**20, 1)})
        if not keep:
            wav.unlink()
    return rows


def format_table(rows: Sequence[Dict[str, Any]]) -> str:
    lines = ["| input | WAV size | peak RSS of accent-id | wall time | exit | accent |", "|---|---|---|---|---|---|"]
    for r in rows:
        length = f"{r['minutes'] / 60:g} h" if r["minutes"] >= 60 else f"{r['minutes']:g} min"
        lines.append(f"| {length} | {r['file_mb']:.0f} MB | {r['peak_rss_mb']:.0f} MB | {r['wall_s']:.0f} s "
                     f"| {r['status']} | {r['accent']} |")
    return "\n".join(lines)
