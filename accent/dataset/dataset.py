"""A Kaldi data directory as a PyTorch dataset: features, accent labels, CTC targets.

* Features are read lazily from ``feats.scp`` with kaldiio (``ark:offset`` entries; each process
  keeps its ark files open) and given raw: the model normalises them (``accent.models.normalize``).
  For training, SpecAugment masks are drawn with a generator seeded by (seed, epoch, utterance
  index), so an utterance's masks do not depend on the worker that loads it nor on restarts; the
  model fills them after its normalisation.
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
from accent.text.normalize import is_transcribed
from accent.text.units import read_units

from .specaug import SpecAugment

log = logging.getLogger(__name__)

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
        feats = self.load_feats(index)
        mask = None
        if self.specaug is not None:
            mask = self.specaug.mask(*feats.shape, np.random.default_rng([self.seed, epoch, index]))
        return {
            "utt": self.utts[index],
            "feats": feats,
            "specaug_mask": mask,
            "label": None if self.label_ids is None else self.label_ids[index],
            "target": None if self.targets is None else self.targets[index],
        }


def collate(items: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
    """Pad a list of items into a batch dict: utts, feats (B, T, D), lengths (B,), specaug_mask
    (B, T, D) | None, labels (B,) | None, targets (B, S) | None, target_lengths."""
    lengths = torch.tensor([it["feats"].shape[0] for it in items], dtype=torch.long)
    dim = items[0]["feats"].shape[1]
    feats = torch.zeros(len(items), int(lengths.max()), dim, dtype=torch.float32)
    for i, it in enumerate(items):
        feats[i, : it["feats"].shape[0]] = torch.from_numpy(it["feats"])
    batch: Dict[str, Any] = {"utts": [it["utt"] for it in items], "feats": feats, "lengths": lengths,
                             "specaug_mask": None, "labels": None, "targets": None, "target_lengths": None}
    if items[0].get("specaug_mask") is not None:
        batch["specaug_mask"] = pad_masks([it["specaug_mask"] for it in items])
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


def pad_masks(masks: Sequence[np.ndarray]) -> torch.Tensor:
    """(B, T, D) bool from (T_i, D) masks, False on padding."""
    out = torch.zeros(len(masks), max(m.shape[0] for m in masks), masks[0].shape[1], dtype=torch.bool)
    for i, m in enumerate(masks):
        out[i, : m.shape[0]] = torch.from_numpy(m)
    return out
