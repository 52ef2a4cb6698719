"""Sizes and seed of the demo corpora."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

#: Bump when a change to the generator changes its output, so that stale corpora are redone.
GENERATOR_VERSION = 1


@dataclass
class DemoConfig:
    seed: int = 0
    speakers_per_accent: int = 12
    utts_per_speaker: int = 25
    dev_speakers_per_accent: int = 2
    test_utts: int = 40
    libri_train_speakers: int = 20
    libri_train_utts: int = 30
    libri_dev_speakers: int = 5
    libri_dev_utts: int = 10
    cv_speakers_per_class: int = 4   # demo Common Voice: speakers of each of its 4 accent classes
    cv_clips_per_speaker: int = 5   # +-1 from speaker to speaker
    l2_utts_per_speaker: int = 5     # demo L2-ARCTIC: prompts read by each of the 24 speakers
    num_jobs: int = 2

    def validate(self) -> None:
        if self.speakers_per_accent < 1:
            raise ValueError(f"speakers_per_accent must be >= 1, got {self.speakers_per_accent}")
        if not 0 <= self.dev_speakers_per_accent < self.speakers_per_accent:
            raise ValueError(
                f"dev_speakers_per_accent ({self.dev_speakers_per_accent}) must be >= 0 and smaller than "
                f"speakers_per_accent ({self.speakers_per_accent}): train needs speakers too")
        if not 1 <= self.utts_per_speaker <= 8999:
            raise ValueError(f"utts_per_speaker must be in 1..8999 (4-digit S1001.. ids), got {self.utts_per_speaker}")
        if not 0 <= self.test_utts <= 99999:
            raise ValueError(f"test_utts must be in 0..99999 (5-digit test ids), got {self.test_utts}")
        for name in ("libri_train_speakers", "libri_train_utts", "libri_dev_speakers", "libri_dev_utts"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.libri_train_utts > 9999 or self.libri_dev_utts > 9999:
            raise ValueError("LibriSpeech utterance numbers have 4 digits: at most 9999 per speaker")
        if self.cv_speakers_per_class < 3:
            raise ValueError(f"cv_speakers_per_class must be >= 3 (train, dev and test speakers), got {self.cv_speakers_per_class}")
        for name in ("cv_clips_per_speaker", "l2_utts_per_speaker"):
            if not 1 <= getattr(self, name) <= 9999:
                raise ValueError(f"{name} must be in 1..9999, got {getattr(self, name)}")
        if self.num_jobs < 1:
            raise ValueError(f"num_jobs must be >= 1, got {self.num_jobs}")

    def aesrc_stamp(self) -> dict[str, Any]:
        """What determines the AESRC output (not num_jobs: output is independent of it)."""
        keys = ("seed", "speakers_per_accent", "utts_per_speaker", "dev_speakers_per_accent", "test_utts")
        return self._stamp(keys)

    def librispeech_stamp(self) -> dict[str, Any]:
        keys = ("seed", "libri_train_speakers", "libri_train_utts", "libri_dev_speakers", "libri_dev_utts")
        return self._stamp(keys)

    def commonvoice_stamp(self) -> dict[str, Any]:
        keys = ("seed", "cv_speakers_per_class", "cv_clips_per_speaker")
        return self._stamp(keys)

    def l2arctic_stamp(self) -> dict[str, Any]:
        keys = ("seed", "l2_utts_per_speaker")
        return self._stamp(keys)

    def _stamp(self, keys: tuple[str, ...]) -> dict[str, Any]:
        return {"generator_version": GENERATOR_VERSION, **{k: asdict(self)[k] for k in keys}}
