"""Audio for inference: whatever the user has, made into what the model was trained on.

Any file libsndfile reads (wav, flac, ogg, ...), or a Kaldi ``wav.scp`` entry (a path or a command
ending in ``|``), is decoded, down-mixed to mono (the mean of the channels) and resampled with a
polyphase filter to the model's FBank sample rate.  Each conversion is reported as a note
("stereo -> mono", "44100 Hz -> 16000 Hz") so that the user knows the input was not what the
model expects.  Problems raise :class:`AudioError` naming the input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Tuple

import numpy as np
from scipy.signal import resample_poly

from accent.data.audio import AudioError, decode_wav_scp_entry
from accent.data.kaldi_dir import read_mapping

AUDIO_SUFFIXES = (".wav", ".flac")


@dataclass
class Audio:
    """Mono float32 samples in [-1, 1] at ``sample_rate``, and what was done to get them."""

    samples: np.ndarray
    sample_rate: int
    notes: List[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


def to_model_rate(samples: np.ndarray, rate: int, target_rate: int) -> Tuple[np.ndarray, List[str]]:
    """Down-mix (frames, channels) or (frames,) samples to mono and resample to ``target_rate``."""
    notes = []
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim == 2:
        channels = samples.shape[1]
        if channels > 1:
            notes.append(f"{'stereo' if channels == 2 else f'{channels} channels'} -> mono")
        samples = samples.mean(axis=1)
    if rate != target_rate:
        g = math.gcd(int(rate), int(target_rate))
        samples = resample_poly(samples, target_rate // g, rate // g).astype(np.float32)
        notes.append(f"{rate} Hz -> {target_rate} Hz")
    return samples, notes


def load_audio(entry: str, target_rate: int) -> Audio:
    """Decode a path or wav.scp value and bring it to mono ``target_rate``; errors name ``entry``."""
    entry = str(entry).strip()
    samples, rate = decode_wav_scp_entry(entry)
    mono, notes = to_model_rate(samples, rate, target_rate)
    return Audio(mono, target_rate, notes)


def expand_inputs(inputs: Iterable[str]) -> Dict[str, str]:
    """Inputs -> ordered {id: wav.scp-style entry}.

    A directory gives its ``*.wav``/``*.flac`` files (recursively, sorted), a ``*.scp`` file its
    Kaldi entries (ids are the utterance ids; pipes allowed), anything else is an audio path
    (its id is the path as given).  A missing input raises, naming it; duplicate ids raise.
    """
    out: Dict[str, str] = {}

    def add(key: str, value: str, source: str) -> None:
        if key in out:
            raise AudioError(f"{source}: id {key!r} given twice")
        out[key] = value

    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
            if not files:
                raise AudioError(f"{path}: directory holds no {'/'.join(AUDIO_SUFFIXES)} files")
            for f in files:
                add(str(f), str(f), str(path))
        elif path.suffix == ".scp":
            if not path.is_file():
                raise AudioError(f"{path}: no such wav.scp")
            for utt, entry in read_mapping(path).items():
                add(utt, entry, str(path))
        else:
            add(str(item), str(item), str(item))
    return out
