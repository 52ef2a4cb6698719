"""Resumption state: pruning, the checkpoint to resume from, and RNG states as plain types.

The checkpoint files themselves (format, atomic saving, verified loading, averaging, the
experiment's checkpoint rule) are :mod:`accent.models.checkpoint`, which inference and scoring
use without this training package.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import numpy as np
import torch

from accent.models.checkpoint import (  # noqa: F401  (re-exported for the trainer and its tests)
    FORMAT, PathLike, average_checkpoints, epoch_checkpoints, experiment_checkpoint, intact, link_or_copy,
    load_checkpoint, save_checkpoint,
)
from accent.utils.integrity import DamagedFileError, check_zip_archive

log = logging.getLogger(__name__)


def prune_checkpoints(exp_dir: PathLike, keep: int) -> List[Path]:
    """Remove all but the newest ``keep`` epoch checkpoints (``best.pt`` is a separate link)."""
    if keep <= 0:
        return []
    removed = []
    for _, p in epoch_checkpoints(exp_dir)[:-keep]:
        p.unlink()
        removed.append(p)
    return removed


def latest_checkpoint(exp_dir: PathLike) -> Optional[Path]:
    """The state to resume from: ``last.pt`` (kept newest), else the newest ``epoch_N.pt``.  Damaged
    or truncated ones (a run killed while the disk was full, ...) are passed over with a warning
    naming them; if every one is damaged, :class:`DamagedFileError` lists them."""
    exp_dir = Path(exp_dir)
    candidates = [exp_dir / "last.pt"] if (exp_dir / "last.pt").is_file() else []
    candidates += [p for _, p in reversed(epoch_checkpoints(exp_dir))]
    damaged = []
    for path in candidates:
        try:
            check_zip_archive(path)
        except DamagedFileError as e:
            damaged.append(str(e))
            continue
        for problem in damaged:
            log.warning("%s: passed over, resuming from %s", problem, path)
        return path
    if damaged:
        raise DamagedFileError(f"{exp_dir}: no intact checkpoint to resume from:\n  " + "\n  ".join(damaged)
                               + "\nremove them (or the directory) to start afresh")
    return None






# ------------------------------------------------------------------------------------------------
# RNG states as plain types (weights_only-loadable)


def rng_state() -> Dict[str, Any]:
    np_state = np.random.get_state()
    py_state = random.getstate()
    state = {
        "python": [py_state[0], list(py_state[1]), py_state[2]],
        "numpy": {
            "name": np_state[0], "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]), "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4]),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    keys = n["keys"].numpy().astype(np.uint32)
    np.random.set_state((n["name"], keys, n["pos"], n["has_gauss"], n["cached_gaussian"]))
    torch.set_rng_state(state["torch"].cpu())
    if state.get("cuda") and torch.cuda.is_available():
        cuda = list(state["cuda"])
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([c.cpu() for c in cuda])




# ------------------------------------------------------------------------------------------------
# Resumption of a training run

# config keys that may change between a run and its resumption
RESUMABLE_CHANGES = {
    "train.epochs", "train.keep_checkpoints", "train.log_interval_steps", "train.save_interval_steps",
    "train.average_last", "data.num_workers", "data.prefetch_factor", "asr_checkpoint", "reference_checkpoint", "lang_dir",
    "description",
}


def _flatten(d: Mapping[str, Any], prefix: str = "") -> Dict[str, Any]:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def config_differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> List[str]:
    fa, fb = _flatten(a), _flatten(b)
    return sorted(k for k in set(fa) | set(fb) if fa.get(k, "<unset>") != fb.get(k, "<unset>"))


def restore(path: Path, cfg: Mapping[str, Any], labels, units, opt, rank: int, world_size: int):
    """Load the training state of checkpoint ``path`` into ``opt`` (model, optimiser, scheduler,
    scaler) and the RNGs; returns ``(progress, history, best)``.  A config that differs in more
    than :data:`RESUMABLE_CHANGES`, other labels or units, or a mid-epoch state of another number of
    processes are errors saying what to do."""
    from .config import ConfigError
    from .distributed import rank_seed, seed_everything
    from .loop import EpochStats, Progress

    ckpt = load_checkpoint(path, map_location="cpu")
    diff = [k for k in config_differences(ckpt["config"], cfg) if k not in RESUMABLE_CHANGES]
    if diff:
        raise ConfigError(f"--resume: the config differs from the one of {path} in {', '.join(diff)}; "
                          "use a new --exp-dir for a new config")
    if ckpt.get("labels") != labels or ckpt.get("units") != units:
        raise ConfigError(f"--resume: the label or unit list differs from the one of {path}")
    opt.model.load_state_dict(ckpt["model"])
    opt.optimizer.load_state_dict(ckpt["optimizer"])
    opt.scheduler.load_state_dict(ckpt["scheduler"])
    if ckpt["scheduler"].get("total_steps") != opt.scheduler.total_steps:
        log.warning("--resume: train.epochs changed: the learning-rate schedule now spans %d steps",
                    opt.scheduler.total_steps)
    if ckpt.get("scaler") and opt.scaler.is_enabled():
        opt.scaler.load_state_dict(ckpt["scaler"])
    progress = Progress(step=int(ckpt["step"]))
    saved_world = int(ckpt.get("world_size") or 1)
    if ckpt["batches_done"]:
        if saved_world != world_size:
            # the ranks' batches of that epoch differ with the number of processes
            raise ConfigError(f"--resume: {path} is from the middle of epoch {ckpt['epoch']} of a run with "
                              f"{saved_world} process(es); resume it with as many (this run has "
                              f"{world_size}), or remove it to restart from the last epoch_N.pt")
        progress.epoch, progress.batches_done = int(ckpt["epoch"]), int(ckpt["batches_done"])
        # the saved sums are over all ranks: rank 0 carries them on, the others start afresh
        progress.stats = EpochStats(ckpt["epoch_stats"] if rank == 0 else None)
    else:
        progress.epoch = int(ckpt["epoch"]) + 1
    ranks = ckpt.get("rng_ranks")
    if ranks and len(ranks) == world_size:
        set_rng_state(ranks[rank])
    else:
        set_rng_state(ckpt["rng"])
        if world_size > 1:
            seed_everything(rank_seed(int(cfg["seed"]), rank, progress.step))
            log.info("--resume: %s holds the RNG states of %d process(es), this run has %d: the ranks "
                     "draw new random numbers", path, saved_world, world_size)
    where = (f"epoch {progress.epoch}, batch {progress.batches_done}" if progress.batches_done
             else f"the start of epoch {progress.epoch}")
    log.info("resumed from %s (step %d): continuing at %s", path, progress.step, where)
    return progress, list(ckpt["history"]), dict(ckpt["best"])


def repair_best(exp_dir: Path, best: Dict[str, Any]) -> Dict[str, Any]:
    """best.pt damaged (it shares its file with epoch_N.pt and last.pt, hard-linked): link it
    again to its intact epoch checkpoint, else forget the best so that a new one is saved."""
    path = exp_dir / "best.pt"
    if not path.is_file() or intact(path):
        return best
    epoch_ckpt = exp_dir / f"epoch_{best.get('epoch')}.pt"
    if epoch_ckpt.is_file() and intact(epoch_ckpt):
        link_or_copy(epoch_ckpt, path)
        log.warning("%s was damaged: linked again to %s", path, epoch_ckpt)
        return best
    log.warning("%s is damaged and its epoch's checkpoint is gone: the best of the epochs still to "
                "train becomes best.pt", path)
    path.unlink()
    return {"metric": best.get("metric"), "value": None, "epoch": None}


def save_epoch(state: Mapping[str, Any], exp_dir: Path, epoch: int, is_best: bool, keep: int) -> None:
    """``epoch_N.pt``, with ``last.pt`` (and ``best.pt``) linked to it; the oldest pruned."""
    path = save_checkpoint(state, exp_dir / f"epoch_{epoch}.pt")
    link_or_copy(path, exp_dir / "last.pt")
    if is_best:
        link_or_copy(path, exp_dir / "best.pt")
    prune_checkpoints(exp_dir, keep)
