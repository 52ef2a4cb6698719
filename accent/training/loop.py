"""The training epoch and the dev evaluation, icefall-style: ``train_one_epoch`` and ``validate``.

Both call the model's one interface, ``model(batch) -> (loss, stats)``, so ASR and accent models
train alike.  Distributed: a non-finite loss on any rank skips the step on all; the epoch's sums
and the dev set's (sharded) are added up over the ranks.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Mapping, Optional, Sequence

import numpy as np
import torch

from accent.models import greedy_decode, linear_margin
from accent.models.ctc import ctc_carriers, error_counts, unpad_targets
from accent.models.encoders.pretrained import set_training_step

from .distributed import all_reduce_sum, all_true

log = logging.getLogger(__name__)


class EpochStats:
    """Running sums of one training epoch (saved in mid-epoch checkpoints)."""

    KEYS = ("utts", "frames", "loss", "accent_loss", "ctc_loss", "ctc_utts", "correct", "labelled", "steps",
            "skipped", "time", "data_time")
    # summed over the ranks; "steps" (the same on every rank) and the times are rank 0's
    SUMMED = ("utts", "frames", "loss", "accent_loss", "ctc_loss", "ctc_utts", "correct", "labelled", "skipped")

    def __init__(self, state: Optional[Mapping[str, float]] = None):
        self.v: Dict[str, float] = {k: 0.0 for k in self.KEYS}
        if state:
            self.v.update({k: float(state[k]) for k in self.KEYS if k in state})

    def __getitem__(self, k: str) -> float:
        return self.v[k]

    def add(self, **kw: float) -> None:
        for k, x in kw.items():
            self.v[k] += float(x)

    def state(self) -> Dict[str, float]:
        return dict(self.v)

    def summed(self) -> "EpochStats":
        """These statistics with the counts summed over the ranks (a collective: every rank calls it)."""
        total = all_reduce_sum([self.v[k] for k in self.SUMMED])
        return EpochStats({**self.v, **dict(zip(self.SUMMED, total.tolist()))})


@dataclass
class Progress:
    """Where training stands: what checkpoints save and a resumption restores."""

    epoch: int = 1
    batches_done: int = 0   # of the current epoch
    step: int = 0           # optimiser steps so far
    stats: EpochStats = field(default_factory=EpochStats)


@dataclass
class Optimisation:
    """What a training step uses."""

    model: torch.nn.Module      # the model itself
    net: torch.nn.Module        # what steps call: the DDP wrapper when distributed, else the model
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    device: torch.device
    amp_dtype: Optional[torch.dtype] = None
    clip_grad: float = 0.0
    margin_ramp: Optional[Mapping[str, float]] = None   # train.margin_ramp, for a margin head
    final_margin: float = 0.0

    def autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def forward(self, batch: Mapping[str, Any], model: Optional[torch.nn.Module] = None):
        """``(loss, stats)`` of ``model`` (default: ``net``) on ``batch``, moved to the device."""
        with self.autocast():
            return (self.net if model is None else model)(to_device(batch, self.device))

    def set_margin(self, step: int, steps_per_epoch: int) -> Optional[float]:
        if not self.margin_ramp:
            return None
        r = self.margin_ramp
        m = linear_margin(step, float(r.get("start_epoch", 0)) * steps_per_epoch,
                          float(r.get("end_epoch", 0)) * steps_per_epoch, float(r.get("initial", 0.0)),
                          self.final_margin)
        self.model.head.set_margin(m)
        return m


def to_device(batch: Mapping[str, Any], device: torch.device) -> Dict[str, Any]:
    """The batch with its tensors on ``device`` (the other fields as they are)."""
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def train_one_epoch(opt: Optimisation, progress: Progress, loader, sampler, steps_per_epoch: int,
                    frame_shift: float, log_every: int = 0, save_every: int = 0,
                    save_mid_epoch: Callable[[], None] = lambda: None, tb=None, show_bar: bool = False,
                    is_main: bool = True) -> Dict[str, Any]:
    """One pass over ``loader`` from ``progress.batches_done``; ``save_mid_epoch`` every
    ``save_every`` batches.  Returns the epoch's ``train_*`` record."""
    opt.net.train()
    sampler.set_epoch(progress.epoch, start=progress.batches_done)
    stats = progress.stats
    bar = None
    if show_bar:
        from tqdm import tqdm
        bar = tqdm(total=steps_per_epoch, initial=progress.batches_done, desc=f"epoch {progress.epoch}",
                   leave=False, file=sys.stderr, dynamic_ncols=True)
    t_last = time.perf_counter()
    it = iter(loader)
    while True:
        batch = next(it, None)
        t_data = time.perf_counter()
        if batch is None:
            break
        margin = opt.set_margin(progress.step, steps_per_epoch)
        set_training_step(opt.model, progress.step)  # e.g. the end of an ssl encoder's frozen warm-up
        loss, out = opt.forward(batch)
        _step(opt, loss, progress)
        progress.step += 1
        progress.batches_done += 1
        now = time.perf_counter()
        stats.add(**_batch_sums(batch, loss, out), time=now - t_last, data_time=t_data - t_last)
        t_last = now
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{stats['loss'] / max(stats['utts'], 1):.3f}")
        if log_every and is_main and progress.step % log_every == 0:
            lr = opt.scheduler.get_last_lr()[0]
            log.info("epoch %d step %d (%d/%d): loss %.4f lr %.3g%s", progress.epoch, progress.step,
                     progress.batches_done, steps_per_epoch, float(loss.detach()), lr,
                     f" margin {margin:.3f}" if margin is not None else "")
            if tb is not None:
                tb.scalars({"train_step/loss": float(loss.detach()), "train_step/lr": lr}, progress.step)
        if save_every and progress.batches_done % save_every == 0 and progress.batches_done < steps_per_epoch:
            save_mid_epoch()
    if bar is not None:
        bar.close()
    return _epoch_record(stats.summed(), frame_shift)


def _step(opt: Optimisation, loss: torch.Tensor, progress: Progress) -> None:
    finite = bool(torch.isfinite(loss.detach()))
    # all ranks skip together: the others would wait for this one's gradients in backward()
    if not all_true(finite):
        log.warning("epoch %d batch %d: non-finite loss (%s), step skipped", progress.epoch,
                    progress.batches_done + 1, loss.item() if not finite else "on another rank")
        opt.optimizer.zero_grad(set_to_none=True)
        progress.stats.add(skipped=1)
    else:
        opt.optimizer.zero_grad(set_to_none=True)
        opt.scaler.scale(loss).backward()
        if opt.clip_grad > 0:
            opt.scaler.unscale_(opt.optimizer)
            torch.nn.utils.clip_grad_norm_(opt.model.trainable_parameters(), opt.clip_grad)
        opt.scaler.step(opt.optimizer)
        opt.scaler.update()
    opt.scheduler.step()


def _batch_sums(batch: Mapping[str, Any], loss: torch.Tensor, out: Mapping[str, Any]) -> Dict[str, float]:
    n = len(batch["utts"])
    upd = {"utts": n, "frames": int(batch["lengths"].sum()), "steps": 1, "loss": float(loss.detach()) * n}
    if out.get("accent_loss") is not None:
        upd["accent_loss"] = float(out["accent_loss"].detach()) * n
    if out.get("ctc_loss") is not None:  # a mean over the utterances with targets
        carriers = ctc_carriers(batch["target_lengths"])
        upd["ctc_loss"] = float(out["ctc_loss"].detach()) * carriers
        upd["ctc_utts"] = carriers
    if batch.get("labels") is not None and out.get("logits") is not None:
        upd["correct"] = int((out["logits"].argmax(-1).cpu() == batch["labels"]).sum())
        upd["labelled"] = n
    return upd


def _epoch_record(stats: EpochStats, frame_shift: float) -> Dict[str, Any]:
    u, t = max(stats["utts"], 1), max(stats["time"], 1e-9)
    res = {
        "train_loss": stats["loss"] / u,
        "train_frames_per_s": stats["frames"] / t,
        "train_audio_s_per_s": stats["frames"] * frame_shift / t,
        "train_time_s": stats["time"],
        "train_data_wait_frac": stats["data_time"] / t,
        "train_utts": int(stats["utts"]),
        "train_skipped_steps": int(stats["skipped"]),
    }
    if stats["accent_loss"]:
        res["train_accent_loss"] = stats["accent_loss"] / u
    if stats["ctc_utts"]:
        res["train_ctc_loss"] = stats["ctc_loss"] / stats["ctc_utts"]
        res["train_ctc_utts"] = int(stats["ctc_utts"])
    if stats["labelled"]:
        res["train_acc"] = stats["correct"] / stats["labelled"]
    return res


@torch.no_grad()
def validate(opt: Optimisation, loader, sampler, labels: Optional[Sequence[str]], world_size: int = 1
             ) -> Dict[str, Any]:
    """Dev loss, accuracy (accent; overall and per accent) and PER (with a CTC head and targets).

    Distributed: each rank scores its shard of the dev set (the unwrapped model: no collective
    per batch) and the sums are added up over the ranks, so all get the same metrics."""
    opt.model.eval()
    t0 = time.perf_counter()
    n = loss = ctc = ctc_n = 0.0
    errors = ref_len = 0
    k = len(labels) if labels else 0
    correct = np.zeros(k, dtype=np.int64)
    count = np.zeros(k, dtype=np.int64)
    sampler.set_epoch(0)
    for batch in loader:
        batch_loss, out = opt.forward(batch, opt.model)
        b = len(batch["utts"])
        n += b
        if batch_loss is not None:
            loss += float(batch_loss) * b
        if out.get("ctc_loss") is not None:
            carriers = ctc_carriers(batch["target_lengths"])
            ctc += float(out["ctc_loss"]) * carriers
            ctc_n += carriers
        if batch.get("labels") is not None and out.get("logits") is not None:
            pred = out["logits"].float().argmax(-1).cpu().numpy()
            lab = batch["labels"].numpy()
            np.add.at(count, lab, 1)
            np.add.at(correct, lab, (pred == lab).astype(np.int64))
        if out.get("ctc_log_probs") is not None and batch["targets"] is not None:
            hyps = greedy_decode(out["ctc_log_probs"].float(), out["ctc_lengths"], blank=0)
            refs = unpad_targets(batch["targets"], batch["target_lengths"])
            has = [i for i, r in enumerate(refs) if r]  # the PER of the transcribed utterances
            e, r = error_counts([hyps[i] for i in has], [refs[i] for i in has])
            errors += e
            ref_len += r
    if world_size > 1:
        total = all_reduce_sum([n, loss, ctc, ctc_n, errors, ref_len, *correct, *count])
        n, loss, ctc, ctc_n, errors, ref_len = total[:6].tolist()
        errors, ref_len = int(errors), int(ref_len)
        correct, count = total[6:6 + k].astype(np.int64), total[6 + k:].astype(np.int64)
    res: Dict[str, Any] = {"dev_loss": loss / max(n, 1), "dev_time_s": time.perf_counter() - t0}
    if ctc_n:
        res["dev_ctc_loss"] = ctc / ctc_n
    if ref_len:
        res["dev_per"] = errors / ref_len
    if count.sum():
        res["dev_acc"] = float(correct.sum() / count.sum())
        res["dev_acc_per_accent"] = {lab: (float(c / t) if t else None) for lab, c, t in zip(labels, correct, count)}
    return res
