"""Checkpoint files: atomic saving, verified ``weights_only`` loading, averaging, and the one rule
for the checkpoint that stands for an experiment.

A checkpoint is a dict of plain types and tensors only (``torch.load(..., weights_only=True)``
loads it)::

    format        "accent-checkpoint-v1"
    config        the resolved experiment config (dict)
    task          "accent" | "asr"
    labels        accent label list (scoring order) or None
    units         CTC unit list (units.txt order) or None
    input_dim     feature dimension
    model         model state dict (the feature normaliser's statistics included)
    optimizer, scheduler, scaler     training state (absent from averaged checkpoints)
    epoch         the epoch this checkpoint belongs to (1-based)
    batches_done  0 at an epoch's end; > 0 for a mid-epoch ``last.pt`` (batches of ``epoch`` done)
    step          optimizer steps so far
    epoch_stats   the running statistics of an unfinished epoch (mid-epoch checkpoints)
    history       one record per finished epoch (as in train_log.jsonl)
    best          {"metric", "value", "epoch"} of the best epoch so far
    rng           python / numpy / torch (/ cuda) RNG states

Files in ``exp/<name>/``: ``epoch_N.pt`` (the newest K kept), ``best.pt`` (hard link to the best
epoch, or a copy where links are impossible), ``last.pt`` (newest state, for ``--resume``),
``avg_N.pt`` (with ``train.average_last: N``).  :func:`experiment_checkpoint` is the one rule for
the model of an experiment, used by scoring (stage 6), RESULTS.md, export and ``accent-id``.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch

from accent.utils.integrity import DamagedFileError, check_zip_archive

log = logging.getLogger(__name__)

FORMAT = "accent-checkpoint-v1"
_EPOCH_RE = re.compile(r"^epoch_(\d+)\.pt$")

PathLike = Union[str, os.PathLike]


def save_checkpoint(state: Mapping[str, Any], path: PathLike) -> Path:
    """``torch.save`` to a temporary file, fsync, then rename: a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(dict(state), f)
            f.flush()
            os.fsync(f.fileno())
    except (OSError, RuntimeError) as e:
        full = _disk_full(e, path.parent)  # before the unlink frees the half-written file's space
        tmp.unlink(missing_ok=True)  # half a checkpoint must not take the space of the next one
        if full:
            raise OSError(errno.ENOSPC, f"no space left on the device of {path.parent} while saving {path.name} "
                          "(free some space, then continue with --resume)", str(path)) from None
        raise
    os.replace(tmp, path)
    return path


def _disk_full(e: BaseException, where: Path) -> bool:
    """ENOSPC/EDQUOT from Python, or a failed torch writer (a RuntimeError such as "unexpected pos")
    on a device with (almost) no space left."""
    if getattr(e, "errno", None) in (errno.ENOSPC, errno.EDQUOT):
        return True
    try:
        return shutil.disk_usage(where).free < 1 << 20
    except OSError:
        return False


def load_checkpoint(path: PathLike, map_location: Union[str, torch.device] = "cpu") -> Dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    check_zip_archive(path)  # torch.load does not check the CRCs: a damaged tensor would load
    return torch.load(path, map_location=map_location, weights_only=True)


def link_or_copy(src: PathLike, dst: PathLike) -> None:
    """Make ``dst`` the same file as ``src`` (hard link, else copy), atomically replacing ``dst``."""
    src, dst = Path(src), Path(dst)
    tmp = dst.with_name(dst.name + ".tmp")
    if tmp.exists():
        tmp.unlink()
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def epoch_checkpoints(exp_dir: PathLike) -> List[Tuple[int, Path]]:
    """``[(epoch, path)]`` of the ``epoch_N.pt`` files, by epoch."""
    out = []
    for p in Path(exp_dir).glob("epoch_*.pt"):
        m = _EPOCH_RE.match(p.name)
        if m:
            out.append((int(m.group(1)), p))
    return sorted(out)


def intact(path: PathLike) -> bool:
    """Whether ``path`` is a complete checkpoint archive (every CRC-32 right)."""
    try:
        check_zip_archive(path)
    except DamagedFileError:
        return False
    return True


def average_checkpoints(paths: Sequence[PathLike]) -> Dict[str, Any]:
    """A checkpoint whose model weights are the mean of those of ``paths`` (floating tensors;
    integer buffers such as BN's ``num_batches_tracked`` come from the last one).  Config, labels,
    units and normaliser come from the last checkpoint; the training state is dropped."""
    if not paths:
        raise ValueError("no checkpoints to average")
    ckpts = [load_checkpoint(p) for p in paths]
    states = [c["model"] for c in ckpts]
    keys = list(states[-1])
    for p, s in zip(paths, states):
        if list(s) != keys:
            raise ValueError(f"{p}: its model has other parameters than {paths[-1]}; cannot average")
    avg: Dict[str, torch.Tensor] = {}
    for k in keys:
        last = states[-1][k]
        if torch.is_floating_point(last):
            acc = torch.zeros_like(last, dtype=torch.float64)
            for s in states:
                acc += s[k].to(torch.float64)
            avg[k] = (acc / len(states)).to(last.dtype)
        else:
            avg[k] = last.clone()
    out = {k: v for k, v in ckpts[-1].items()
           if k not in ("model", "optimizer", "scheduler", "scaler", "rng", "rng_ranks", "epoch_stats")}
    out["model"] = avg
    out["averaged_from"] = [str(p) for p in paths]
    return out


def experiment_checkpoint(exp_dir: Union[str, Path], checkpoint: Optional[str] = None) -> Path:
    """The checkpoint of an experiment directory that stands for it: ``checkpoint`` (a file name in
    it) when given, else ``avg_N.pt`` when its config averages the last N epochs
    (``train.average_last``, as the AESRC baseline reports) and it exists, else ``best.pt`` (the
    best dev epoch)."""
    import yaml

    exp_dir = Path(exp_dir)
    if checkpoint:
        path = exp_dir / checkpoint
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such checkpoint")
        return path
    average = 0
    if (exp_dir / "config.yaml").is_file():
        cfg = yaml.safe_load((exp_dir / "config.yaml").read_text(encoding="utf-8")) or {}
        average = int(((cfg.get("train") or {}).get("average_last")) or 0)
    candidates = ([exp_dir / f"avg_{average}.pt"] if average > 0 else []) + [exp_dir / "best.pt"]
    for path in candidates:
        if path.is_file():
            if path != candidates[0]:
                log.warning("%s: its config averages the last %d epochs but %s is missing: using %s",
                            exp_dir, average, candidates[0].name, path.name)
            return path
    raise FileNotFoundError(f"{exp_dir}: no {' or '.join(p.name for p in candidates)} (has training finished?)")
