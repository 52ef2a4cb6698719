"""SpecAugment (Park et al., 2019) on FBank matrices: frequency and time masks, training only.

Time warping is left out (as WeNet/WeSpeaker do by default).  Masks are drawn from an explicit
``numpy.random.Generator``, so the data pipeline can seed one per utterance and epoch and the
augmentation does not depend on which DataLoader worker loads the utterance (exact resumption).

Config (the ``data.specaug`` section; ``null``/``false`` or all counts 0 disables it)::

    num_freq_masks: 2      freq_mask_width: 8     # F: each mask covers [0, F] bins
    num_time_masks: 2      time_mask_width: 40    # T: each mask covers [0, T] frames ...
    time_mask_ratio: 0.2                          # ... and at most this fraction of the utterance
    mask_value: zero                              # zero | mean (the utterance mean per bin)
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping, Optional, Union

import numpy as np


@dataclass
class SpecAugment:
    num_freq_masks: int = 2
    freq_mask_width: int = 8
    num_time_masks: int = 2
    time_mask_width: int = 40
    time_mask_ratio: float = 0.2
    mask_value: str = "zero"

    def __post_init__(self) -> None:
        if self.mask_value not in ("zero", "mean"):
            raise ValueError(f"specaug: mask_value must be 'zero' or 'mean', got {self.mask_value!r}")
        for name in ("num_freq_masks", "freq_mask_width", "num_time_masks", "time_mask_width"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"specaug: {name} must be >= 0")
        if not 0.0 <= float(self.time_mask_ratio) <= 1.0:
            raise ValueError("specaug: time_mask_ratio must be in [0, 1]")

    @classmethod
    def from_config(cls, cfg: Union[None, bool, Mapping[str, Any]]) -> Optional["SpecAugment"]:
        """``None``/``False``/``{}`` -> no augmentation; a dict -> an instance (unknown keys are errors)."""
        if not cfg:
            return None
        if cfg is True:
            return cls()
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(cfg) - known)
        if unknown:
            raise KeyError(f"unknown specaug options {unknown}; known: {sorted(known)}")
        aug = cls(**cfg)
        return aug if aug.enabled else None

    @property
    def enabled(self) -> bool:
        return (self.num_freq_masks > 0 and self.freq_mask_width > 0) or (
            self.num_time_masks > 0 and self.time_mask_width > 0 and self.time_mask_ratio > 0
        )

    def __call__(self, feats: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Masked copy of ``feats`` (T, D); the input is left unchanged."""
        x = np.array(feats, dtype=np.float32, copy=True)
        t, d = x.shape
        if t == 0:
            return x
        fill = x.mean(axis=0) if self.mask_value == "mean" else np.zeros(d, dtype=np.float32)
        for _ in range(int(self.num_freq_masks)):
            width = int(rng.integers(0, min(int(self.freq_mask_width), d) + 1))
            if width == 0:
                continue
            start = int(rng.integers(0, d - width + 1))
            x[:, start:start + width] = fill[start:start + width]
        max_t = min(int(self.time_mask_width), int(self.time_mask_ratio * t))
        for _ in range(int(self.num_time_masks)):
            width = int(rng.integers(0, max_t + 1)) if max_t > 0 else 0
            if width == 0:
                continue
            start = int(rng.integers(0, t - width + 1))
            x[start:start + width, :] = fill
        return x
