"""Shared fixtures: small corpora of real (generated) audio in the real on-disk layouts."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Dict, Iterable, Optional, Tuple

import numpy as np
import pytest
import soundfile as sf

from accent.demo.wavio import wav_bytes as demo_wav_bytes


def tone(seconds: float, sample_rate: int = 16000, channels: int = 1, seed: int = 0) -> np.ndarray:
    """A voiced-like signal: a few harmonics with vibrato plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    f0 = 120 + 40 * rng.random()
    x = sum(np.sin(2 * np.pi * k * f0 * t + 3 * np.sin(2 * np.pi * 5 * t)) / k for k in range(1, 6))
    x = 0.2 * x / np.max(np.abs(x)) + 0.01 * rng.standard_normal(len(t))
    return np.repeat(x[:, None], channels, axis=1) if channels > 1 else x


def wav_bytes(samples: np.ndarray, sample_rate: int, list_chunk: bool = False) -> bytes:
    if list_chunk:  # a RIFF LIST/INFO chunk between fmt and data, as some AESRC files have
        return demo_wav_bytes(samples, sample_rate, info={"ISFT": "Lavf58.29.100"})
    buf = io.BytesIO()
    sf.write(buf, samples, sample_rate, subtype="PCM_16", format="WAV")
    return buf.getvalue()


def write_wav(path: Path, seconds: float = 1.0, sample_rate: int = 16000, channels: int = 1,
              list_chunk: bool = False, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(wav_bytes(tone(seconds, sample_rate, channels, seed), sample_rate, list_chunk))
    return path


def make_aesrc(root: Path, speakers: Dict[str, Iterable[str]], utts: int = 2,
               texts: Optional[Dict[Tuple[str, str, int], str]] = None) -> Path:
    """``speakers`` maps an accent folder name to its speaker IDs; returns ``root``."""
    seed = 0
    for folder, spks in speakers.items():
        for spk in spks:
            for i in range(utts):
                stem = f"{spk}S{1001 + i:04d}"
                seed += 1
                write_wav(root / folder / spk / f"{stem}.wav", 0.5 + 0.1 * i, seed=seed)
                text = (texts or {}).get((folder, spk, i), f"Hello, Mr. Smith; it's {folder.split()[0]} number {i}.")
                (root / folder / spk / f"{stem}.txt").write_text(text)  # no final newline, as the corpus
    return root


@pytest.fixture
def small_aesrc(tmp_path: Path) -> Path:
    return make_aesrc(
        tmp_path / "aesrc",
        {
            "American English Speech Data": ["G00007", "G00100"],
            "Indian English Speech Data": ["G0760", "G00200"],
            "Korean Speaking English Speech Data": ["G00025", "G00300"],
            "British English Speech Data": ["G00025", "G00400"],
        },
    )


@pytest.fixture
def dev_list(tmp_path: Path) -> Path:
    path = tmp_path / "dev_spk.list"
    path.write_text("# dev speakers\nUS G00007\nIND G0760\nKR G00300\nUK G00025\n")
    return path


REPO = Path(__file__).resolve().parent.parent


def recipe_copy(where: Path) -> Path:
    """A copy of egs/aesrc in ``where`` (run.sh and conf/ copied, the shared parts linked as in the repo),
    so that data/, exp/ and fbank/ land in a temporary directory."""
    import shutil

    recipe = where / "recipe"
    recipe.mkdir()
    shutil.copy2(REPO / "egs/aesrc/run.sh", recipe / "run.sh")
    shutil.copytree(REPO / "egs/aesrc/conf", recipe / "conf")
    for name in ("path.sh", "cmd.sh", "utils", "local"):
        (recipe / name).symlink_to(REPO / name)
    return recipe


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def processes_in(directory: Path) -> list:
    """PIDs of the live processes whose working directory is ``directory``."""
    import os

    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if Path(os.readlink(proc / "cwd")) == directory and process_alive(int(proc.name)):
                    pids.append(int(proc.name))
            except OSError:
                pass
    return pids


def wait_for(predicate, timeout: float) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` seconds pass; return its last value."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()
