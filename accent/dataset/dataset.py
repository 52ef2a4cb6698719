"""A Kaldi data directory as a PyTorch dataset: features, accent labels, CTC targets.

* Features are read lazily from ``feats.scp`` with kaldiio (``ark:offset`` entries; each process
  keeps its ark files open), normalised (:class:`FeatureNormalizer`: ``global`` CMVN from a Kaldi
  ``cmvn.ark``, per-``utterance`` CMVN, or ``none``) and, for training, SpecAugmented with a
  generator seeded by (seed, epoch, utterance index), so an utterance's masks do not depend on
  the worker that loads it nor on restarts.
* Accent labels come from ``utt2accent`` mapped through the label list of the *training* set
  (its ``accents`` file, in scoring order); a label missing from that list is an error naming the
  file.
* CTC targets: phones of ``text.phn`` through ``units.txt`` of ``data/lang_phn``, or BPE pieces
  of ``text`` when the lang dir holds a ``bpe.model`` (``data/lang_bpe_<N>``).  An untranscribed
  utterance (empty entry, ``<UNK>``) gets the empty target, which the CTC loss leaves out.

Speed perturbation is a data-preparation matter and is not done here (nor anywhere yet).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import kaldiio
import numpy as np
import torch
from torch.utils.data import Dataset

from accent.data.kaldi_dir import DataDirError, read_list, read_mapping
from accent.features.cmvn import mean_std
from accent.text.normalize import is_transcribed
from accent.text.units import read_units

from .specaug import SpecAugment

log = logging.getLogger(__name__)

CMVN_MODES = ("global", "utterance", "none")


# ------------------------------------------------------------------------------------------------
# Normalisation


class FeatureNormalizer:
    """``(feats - mean) / std`` with global statistics, per-utterance statistics, or nothing.

    The global mean and std are plain lists in ``to_dict()``, so they travel inside a checkpoint
    (loadable with ``weights_only=True``) and inference needs no separate ``cmvn.ark``.
    """

    def __init__(self, mode: str = "global", mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None, norm_vars: bool = True):
        if mode not in CMVN_MODES:
            raise ValueError(f"cmvn must be one of {', '.join(CMVN_MODES)}; got {mode!r}")
        if mode == "global" and (mean is None or std is None):
            raise ValueError("global CMVN needs statistics (a cmvn.ark)")
        self.mode, self.norm_vars = mode, bool(norm_vars)
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float32)
        self.std = None if std is None else np.asarray(std, dtype=np.float32)

    @classmethod
    def from_stats_file(cls, path: Union[str, os.PathLike], norm_vars: bool = True) -> "FeatureNormalizer":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: CMVN statistics not found (stage 2 writes data/<set>/cmvn.ark)")
        mean, std = mean_std(np.asarray(kaldiio.load_mat(str(path)), dtype=np.float64))
        return cls("global", mean.tolist(), std.tolist(), norm_vars)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "FeatureNormalizer":
        return cls(d["mode"], d.get("mean"), d.get("std"), d.get("norm_vars", True))

    def to_dict(self) -> dict:
        return {
            "mode": self.mode,
            "mean": None if self.mean is None else [float(x) for x in self.mean],
            "std": None if self.std is None else [float(x) for x in self.std],
            "norm_vars": self.norm_vars,
        }

    def __call__(self, feats: np.ndarray) -> np.ndarray:
        if self.mode == "none":
            return feats.astype(np.float32, copy=False)
        if self.mode == "global":
            if feats.shape[1] != self.mean.shape[0]:
                raise ValueError(f"features have {feats.shape[1]} dims but the CMVN statistics {self.mean.shape[0]}")
            mean, std = self.mean, self.std
        else:
            mean = feats.mean(axis=0)
            std = np.sqrt(np.maximum(feats.var(axis=0), 1e-10))
        out = feats - mean
        if self.norm_vars:
            out = out / std
        return out.astype(np.float32, copy=False)


# ------------------------------------------------------------------------------------------------
# Labels and CTC targets


def read_label_list(data_dir: Union[str, os.PathLike]) -> List[str]:
    """The accent label list (scoring order) of a data dir: its ``accents`` file."""
    path = Path(data_dir) / "accents"
    if not path.is_file():
        raise DataDirError(f"{path}: missing (the label list of the training set, written by data preparation)")
    labels = read_list(path)
    if not labels:
        raise DataDirError(f"{path}: empty label list")
    if len(set(labels)) != len(labels):
        raise DataDirError(f"{path}: duplicate labels")
    return labels


def map_labels(data_dir: Union[str, os.PathLike], labels: Sequence[str], label_source: str = "") -> Dict[str, int]:
    """``utt2accent`` as utterance -> index in ``labels``; unknown labels raise naming the file."""
    path = Path(data_dir) / "utt2accent"
    if not path.is_file():
        raise DataDirError(f"{path}: missing; accent training and scoring need accent labels")
    index = {lab: i for i, lab in enumerate(labels)}
    out: Dict[str, int] = {}
    unknown: Dict[str, int] = {}
    for utt, lab in read_mapping(path).items():
        if lab in index:
            out[utt] = index[lab]
        else:
            unknown[lab] = unknown.get(lab, 0) + 1
    if unknown:
        src = f" ({label_source})" if label_source else ""
        raise DataDirError(
            f"{path}: labels {sorted(unknown)} are not in the training label list{src}: {', '.join(labels)}"
        )
    return out


class Tokenizer:
    """Transcript -> CTC target ids in ``units.txt``: phones (``text.phn``) or BPE pieces (``text``)."""

    def __init__(self, lang_dir: Union[str, os.PathLike]):
        self.lang_dir = Path(lang_dir)
        units_path = self.lang_dir / "units.txt"
        if not units_path.is_file():
            raise FileNotFoundError(f"{units_path}: not found (stage 3 writes data/lang_phn and data/lang_bpe_<N>)")
        self.units = read_units(units_path)
        self.bpe_model = self.lang_dir / "bpe.model"
        self.kind = "bpe" if self.bpe_model.is_file() else "phn"
        self.text_file = "text" if self.kind == "bpe" else "text.phn"
        self._index = {u: i for i, u in enumerate(self.units)}

    @property
    def num_units(self) -> int:
        return len(self.units)

    def encode(self, text: str, where: str = "") -> List[int]:
        """CTC target ids of a transcript; ``[]`` (no target) for an untranscribed one."""
        if not is_transcribed(text):
            return []
        if self.kind == "bpe":
            from accent.text.bpe import encode_units
            return encode_units(self.bpe_model, text)
        ids = []
        for sym in text.split():
            if sym not in self._index or sym == self.units[0]:
                raise DataDirError(f"{where}: unit {sym!r} is not in {self.lang_dir / 'units.txt'}")
            ids.append(self._index[sym])
        return ids

    def targets(self, data_dir: Union[str, os.PathLike]) -> Dict[str, List[int]]:
        path = Path(data_dir) / self.text_file
        if not path.is_file():
            raise DataDirError(f"{path}: missing; CTC targets ({self.kind}) need it (stage 3 writes text.phn)")
        return {utt: self.encode(text, f"{path}: {utt}")
                for utt, text in read_mapping(path, allow_empty_value=True).items()}


# ------------------------------------------------------------------------------------------------
# Dataset


class FeatsDataset(Dataset):
    """One item per utterance of ``feats.scp``: dict(utt, feats (T, D) float32, label, target).

    ``labels``: the training label list (None: no labels).  ``tokenizer``: CTC targets (None: none).
    ``require_labels`` / ``require_targets``: a missing file is an error (else the field is None).
    Items are indexed by an int or by the sampler's ``(epoch, index)`` keys; SpecAugment (when
    given) is seeded by ``(seed, epoch, index)``.
    """

    def __init__(
        self,
        data_dir: Union[str, os.PathLike],
        normalizer: Optional[FeatureNormalizer] = None,
        labels: Optional[Sequence[str]] = None,
        tokenizer: Optional[Tokenizer] = None,
        require_labels: bool = True,
        require_targets: bool = True,
        specaug: Optional[SpecAugment] = None,
        seed: int = 0,
        label_source: str = "",
    ):
        self.data_dir = Path(data_dir)
        scp = self.data_dir / "feats.scp"
        if not scp.is_file():
            raise DataDirError(f"{scp}: missing (stage 2 computes the features)")
        feats = read_mapping(scp)
        self.utts = list(feats)
        if not self.utts:
            raise DataDirError(f"{scp}: no utterances")
        self._feats = [feats[u] for u in self.utts]
        self.lengths = self._read_lengths()
        self.normalizer = normalizer or FeatureNormalizer("none")
        self.specaug = specaug
        self.seed = int(seed)

        self.label_ids: Optional[List[int]] = None
        if labels is not None and (require_labels or (self.data_dir / "utt2accent").is_file()):
            mapping = map_labels(self.data_dir, labels, label_source)
            self.label_ids = [self._get(mapping, u, "utt2accent") for u in self.utts]
        self.targets: Optional[List[List[int]]] = None
        if tokenizer is not None and (require_targets or (self.data_dir / tokenizer.text_file).is_file()):
            mapping = tokenizer.targets(self.data_dir)
            self.targets = [self._get(mapping, u, tokenizer.text_file) for u in self.utts]
        self._fds: Dict[str, Any] = {}
        self._pid = os.getpid()

    def _get(self, mapping: Mapping[str, Any], utt: str, name: str):
        if utt not in mapping:
            raise DataDirError(f"{self.data_dir / name}: no entry for utterance {utt} of feats.scp")
        return mapping[utt]

    def _read_lengths(self) -> List[int]:
        path = self.data_dir / "utt2num_frames"
        if path.is_file():
            frames = read_mapping(path)
            return [int(self._get(frames, u, "utt2num_frames")) for u in self.utts]
        log.info("%s: no utt2num_frames, reading every matrix for its length", self.data_dir)
        return [int(kaldiio.load_mat(p).shape[0]) for p in self._feats]

    def __len__(self) -> int:
        return len(self.utts)

    @property
    def feat_dim(self) -> int:
        return int(self.load_feats(0).shape[1])

    def load_feats(self, index: int) -> np.ndarray:
        """Raw (un-normalised) features of utterance ``index``."""
        if os.getpid() != self._pid:  # a forked worker must not share its parent's file offsets
            self._fds, self._pid = {}, os.getpid()
        # a writable float32 copy (kaldiio may return a read-only view of its read buffer)
        return np.array(kaldiio.load_mat(self._feats[index], fd_dict=self._fds), dtype=np.float32)

    def close(self) -> None:
        for fd in self._fds.values():
            fd.close()
        self._fds = {}

    def __getstate__(self):  # open files do not travel to worker processes
        state = dict(self.__dict__)
        state["_fds"] = {}
        return state

    def __getitem__(self, key: Union[int, Sequence[int]]) -> Dict[str, Any]:
        epoch, index = (0, int(key)) if isinstance(key, (int, np.integer)) else (int(key[0]), int(key[1]))
        feats = self.normalizer(self.load_feats(index))
        if self.specaug is not None:
            feats = self.specaug(feats, np.random.default_rng([self.seed, epoch, index]))
        return {
            "utt": self.utts[index],
            "feats": feats,
            "label": None if self.label_ids is None else self.label_ids[index],
            "target": None if self.targets is None else self.targets[index],
        }


def collate(items: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
    """Pad a list of items into a batch dict:
    utts, feats (B, T, D), lengths (B,), labels (B,) | None, targets (B, S) | None, target_lengths."""
    lengths = torch.tensor([it["feats"].shape[0] for it in items], dtype=torch.long)
    dim = items[0]["feats"].shape[1]
    feats = torch.zeros(len(items), int(lengths.max()), dim, dtype=torch.float32)
    for i, it in enumerate(items):
        feats[i, : it["feats"].shape[0]] = torch.from_numpy(it["feats"])
    batch: Dict[str, Any] = {"utts": [it["utt"] for it in items], "feats": feats, "lengths": lengths,
                             "labels": None, "targets": None, "target_lengths": None}
    if items[0]["label"] is not None:
        batch["labels"] = torch.tensor([it["label"] for it in items], dtype=torch.long)
    if items[0]["target"] is not None:
        tlen = torch.tensor([len(it["target"]) for it in items], dtype=torch.long)
        targets = torch.zeros(len(items), max(int(tlen.max()), 1), dtype=torch.long)
        for i, it in enumerate(items):
            if it["target"]:
                targets[i, : len(it["target"])] = torch.tensor(it["target"], dtype=torch.long)
        batch["targets"], batch["target_lengths"] = targets, tlen
    return batch
