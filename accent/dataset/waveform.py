"""Whole utterances of ``wav.scp`` as samples, for a waveform-in model (``data.features: waveform``).

The dev set of such a model, and every set stage 6 scores with it, are read here instead of from
``feats.scp``.  A waveform is treated as a 1-dim feature sequence, ``feats`` (S, 1) float32 in
[-1, 1], so that :func:`.dataset.collate` pads it, the length-bucketed sampler batches it and
``lengths`` count samples, with the machinery of FBank features unchanged.  Batch budgets stay in
10-ms frames in the config (``data.max_frames``); ``samples_per_frame`` converts them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from accent.data.audio import AudioError, read_wav_scp_entry
from accent.data.kaldi_dir import DataDirError, read_durations, read_mapping

from .dataset import map_labels


def read_wav_list(data_dir: Path, what: str) -> Tuple[List[str], List[str]]:
    """The utterances of ``data_dir/wav.scp`` and their entries; ``what`` says who needs the audio."""
    wav_scp = data_dir / "wav.scp"
    if not wav_scp.is_file():
        raise DataDirError(f"{wav_scp}: missing; {what} read the audio")
    wavs = read_mapping(wav_scp)
    if not wavs:
        raise DataDirError(f"{wav_scp}: no utterances")
    return list(wavs), list(wavs.values())


def label_ids(data_dir: Path, utts: Sequence[str], labels: Sequence[str], label_source: str = "") -> List[int]:
    """Indices into ``labels`` of the ``utt2accent`` entries of ``utts`` (every one must have one)."""
    mapping = map_labels(data_dir, labels, label_source)
    missing = [u for u in utts if u not in mapping]
    if missing:
        raise DataDirError(f"{data_dir / 'utt2accent'}: no entry for {len(missing)} utterances of wav.scp, "
                           f"e.g. {missing[0]}")
    return [mapping[u] for u in utts]


def takes_waveform(cfg: Mapping[str, Any]) -> bool:
    """True for the resolved config (or checkpoint config) of a model trained on samples."""
    return (cfg.get("data") or {}).get("features") == "waveform"


class WaveformDataset:
    """One item per utterance of ``wav.scp``: dict(utt, feats (S, 1) float32, label, target None).

    ``lengths`` (in samples, from ``utt2dur``) only order and size the batches; an item's own
    length is what its audio decodes to.  Audio at another rate than ``sample_rate`` or with
    several channels is an error naming the entry (data preparation makes sox pipes for those).
    """

    def __init__(self, data_dir: Union[str, os.PathLike], sample_rate: int, labels: Optional[Sequence[str]] = None,
                 require_labels: bool = True, label_source: str = "", frame_shift_ms: float = 10.0):
        self.data_dir = Path(data_dir)
        self.utts, self._wavs = read_wav_list(self.data_dir, "a waveform model (data.features: waveform)")
        self.sample_rate = int(sample_rate)
        self.samples_per_frame = int(round(self.sample_rate * float(frame_shift_ms) / 1000.0))
        self.lengths = [max(1, int(round(d * self.sample_rate))) for d in read_durations(self.data_dir, self.utts)]
        self.label_ids = None
        if labels is not None and (require_labels or (self.data_dir / "utt2accent").is_file()):
            self.label_ids = label_ids(self.data_dir, self.utts, labels, label_source)
        self.targets = None  # no CTC targets: a waveform model has no CTC branch here

    def __len__(self) -> int:
        return len(self.utts)

    @property
    def feat_dim(self) -> int:
        return 1

    def load_samples(self, index: int) -> np.ndarray:
        entry = self._wavs[index]
        samples, rate = read_wav_scp_entry(entry)
        if rate != self.sample_rate:
            raise AudioError(f"{entry.strip()}: {rate} Hz; the model takes {self.sample_rate} Hz")
        if len(samples) == 0:
            raise AudioError(f"{entry.strip()}: audio has no samples")
        return np.asarray(samples, dtype=np.float32)

    def close(self) -> None:  # the interface of FeatsDataset: no files are kept open
        pass

    def __getitem__(self, key: Union[int, Sequence[int]]) -> Dict[str, Any]:
        index = int(key) if isinstance(key, (int, np.integer)) else int(key[1])
        return {
            "utt": self.utts[index],
            "feats": self.load_samples(index)[:, None],
            "label": None if self.label_ids is None else self.label_ids[index],
            "target": None,
        }
