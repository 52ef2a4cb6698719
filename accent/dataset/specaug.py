"""SpecAugment (Park et al., 2019) on FBank matrices: frequency and time masks, training only.

Time warping is left out (as WeNet/WeSpeaker do by default).  Masks are drawn from an explicit
``numpy.random.Generator``, so the data pipeline can seed one per utterance and epoch and the
augmentation does not depend on which DataLoader worker loads the utterance (exact resumption).
The data pipeline draws the masks (``batch["specaug_mask"]``) and the model fills them, after its
normalisation (``mask_value`` 0 is the normalised mean).

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

    def mask(self, num_frames: int, dim: int, rng: np.random.Generator) -> np.ndarray:
        """(T, D) bool, True where masked.  The model fills the masks after normalising
        (:func:`accent.models.normalize.apply_specaug_mask`), since normalisation is part of it."""
        mask = np.zeros((num_frames, dim), dtype=bool)
        if num_frames == 0:
            return mask
        for _ in range(int(self.num_freq_masks)):
            width = int(rng.integers(0, min(int(self.freq_mask_width), dim) + 1))
            if width == 0:
                continue
            start = int(rng.integers(0, dim - width + 1))
            mask[:, start:start + width] = True
        max_t = min(int(self.time_mask_width), int(self.time_mask_ratio * num_frames))
        for _ in range(int(self.num_time_masks)):
            width = int(rng.integers(0, max_t + 1)) if max_t > 0 else 0
            if width == 0:
                continue
            start = int(rng.integers(0, num_frames - width + 1))
            mask[start:start + width, :] = True
        return mask
