"""Generated signals: voiced-like tones and accent-dependent ones, as WAV files."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
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


def accent_signal(accent: int, seconds: float, seed: int, sample_rate: int = 16000) -> np.ndarray:
    """A voiced-like signal whose pitch and spectral tilt depend on the 'accent' (so it is learnable)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    f0 = 100 + 55 * accent + 8 * rng.random()
    tilt = 0.6 + 0.5 * accent
    x = sum(np.sin(2 * np.pi * k * f0 * t + 2 * np.sin(2 * np.pi * 4 * t)) / k**tilt for k in range(1, 8))
    x = 0.3 * x / np.max(np.abs(x)) + 0.01 * rng.standard_normal(len(t))
    return x


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
