"""The options of the FBank front end (Kaldi's compute-fbank-feats), without torch.

:class:`FbankConfig` travels in checkpoints and in exported models' metadata; accent-id reads it
(frame counts, the sample rate) without importing the torch front end of :mod:`.fbank`.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Tuple

import numpy as np
import yaml

from accent.data.kaldi_dir import write_text_atomic

INT16_SCALE = 32768.0  # Kaldi reads audio as int16 values; features of samples in [-1, 1] use this scale


@dataclass
class FbankConfig:
    """Options of Kaldi's compute-fbank-feats that recipes change; the rest keep Kaldi's defaults."""

    sample_rate: int = 16000
    num_mel_bins: int = 40  # the hybrid paper's 40-dim FBank
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    dither: float = 0.0  # 0 makes features reproducible; Kaldi's default is 1.0
    low_freq: float = 20.0
    high_freq: float = 0.0  # <= 0 is an offset from Nyquist, as in Kaldi
    snip_edges: bool = True

    @classmethod
    def from_yaml(cls, path: os.PathLike) -> "FbankConfig":
        with open(path, encoding="utf-8") as f:
            raw = yaml.safe_load(f) or {}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"{path}: unknown fbank options {unknown} (known: {sorted(known)})")
        return cls(**raw)

    @classmethod
    def from_dict(cls, d: dict) -> "FbankConfig":
        return cls(**d)

    def to_dict(self) -> dict:
        return asdict(self)

    def save(self, path: os.PathLike) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(Path(path), yaml.safe_dump(self.to_dict(), sort_keys=False))

    def window_samples(self) -> Tuple[int, int]:
        """(frame length, frame shift) in samples, truncated as Kaldi does (in float32 arithmetic)."""
        to_samples = lambda ms: int(np.float32(self.sample_rate) * np.float32(0.001) * np.float32(ms))  # noqa: E731
        return to_samples(self.frame_length_ms), to_samples(self.frame_shift_ms)

    def num_frames(self, num_samples: int) -> int:
        """Frames Kaldi makes of ``num_samples`` samples (snip_edges: only whole frames inside)."""
        length, shift = self.window_samples()
        if self.snip_edges:
            return 1 + (num_samples - length) // shift if num_samples >= length else 0
        return (num_samples + shift // 2) // shift
