"""Learning-rate schedules by optimizer step: warm-up then decay.

``optim.scheduler`` config (``name`` and its options)::

    constant        warmup_steps: 0                       lr ramps up linearly, then stays
    warmup_cosine   warmup_steps: 500, final_lr_ratio: 0.01   cosine from lr to lr*ratio at the last step
    warmup_exp      warmup_steps: 500, final_lr_ratio: 0.01   exponential decay to lr*ratio at the last step
    noam            warmup_steps: 25000                    lr * min(s/w, sqrt(w/s)) (peak = lr at s = w)

The warm-up is given in one of three ways: ``warmup_steps`` (optimizer steps), ``warmup_epochs``
(epochs of the training set, e.g. 2 or 0.5) or ``warmup_ratio`` (a fraction of all the steps, e.g.
0.1); the last two follow the data size, so a config written for a large corpus still warms up on a
small one.  A warm-up longer than half of the training is warned about: with 11 batches per epoch,
``noam`` with ``warmup_steps: 5000`` reaches 0.066 x lr in 30 epochs.

``total_steps`` (epochs x batches per epoch) and ``steps_per_epoch`` are supplied by the trainer.
The state is the step count alone, so resuming is exact.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Callable, Dict, Mapping, Optional, Union

import torch

log = logging.getLogger(__name__)



def _noam(step: int, warmup: int, total: int, ratio: float) -> float:
    s = max(step, 1)
    return min(s / warmup, math.sqrt(warmup / s)) if warmup > 0 else 1.0 / math.sqrt(s)


def _constant(step: int, warmup: int, total: int, ratio: float) -> float:
    return 1.0


def _cosine(step: int, warmup: int, total: int, ratio: float) -> float:
    progress = min(max(step - warmup, 0) / max(total - warmup, 1), 1.0)
    return ratio + (1 - ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def _exponential(step: int, warmup: int, total: int, ratio: float) -> float:
    return ratio ** min(max(step - warmup, 0) / max(total - warmup, 1), 1.0)


# name -> the lr factor after the warm-up, f(step, warmup_steps, total_steps, final_lr_ratio)
SCHEDULES: Dict[str, Callable[[int, int, int, float], float]] = {
    "constant": _constant, "warmup_cosine": _cosine, "warmup_exp": _exponential, "noam": _noam,
}
SCHEDULERS = tuple(SCHEDULES)


class WarmupScheduler:
    def __init__(self, optimizer: torch.optim.Optimizer, name: str = "warmup_cosine", total_steps: int = 1,
                 warmup_steps: int = 0, final_lr_ratio: float = 0.01):
        if name not in SCHEDULERS:
            raise ValueError(f"optim.scheduler.name must be one of {', '.join(SCHEDULERS)}; got {name!r}")
        if warmup_steps < 0 or not 0 < final_lr_ratio <= 1:
            raise ValueError("scheduler: warmup_steps >= 0 and 0 < final_lr_ratio <= 1 required")
        self.optimizer, self.name = optimizer, name
        self.total_steps = max(int(total_steps), 1)
        self.warmup_steps = int(warmup_steps)
        self.final_lr_ratio = float(final_lr_ratio)
        self.base_lrs = [g.get("initial_lr", g["lr"]) for g in optimizer.param_groups]
        for g, lr in zip(optimizer.param_groups, self.base_lrs):
            g["initial_lr"] = lr
        self.step_count = 0
        self._apply()

    @classmethod
    def from_config(cls, optimizer, cfg: Union[str, Mapping[str, Any]], total_steps: int,
                    steps_per_epoch: Optional[int] = None) -> "WarmupScheduler":
        if isinstance(cfg, str):
            cfg = {"name": cfg}
        cfg = dict(cfg)
        name = cfg.pop("name", "warmup_cosine")
        known = {"warmup_steps", "warmup_epochs", "warmup_ratio", "final_lr_ratio"}
        if set(cfg) - known:
            raise KeyError(f"unknown optim.scheduler options {sorted(set(cfg) - known)}; "
                           f"known: name, {', '.join(sorted(known))}")
        given = [k for k in ("warmup_steps", "warmup_epochs", "warmup_ratio") if cfg.get(k) is not None]
        if len(given) > 1:
            raise ValueError(f"optim.scheduler: give one of {', '.join(given)}, not several")
        total = max(int(total_steps), 1)
        epochs = cfg.pop("warmup_epochs", None)
        ratio = cfg.pop("warmup_ratio", None)
        if epochs is not None:
            if not steps_per_epoch:
                raise ValueError("optim.scheduler.warmup_epochs needs the number of steps per epoch")
            cfg["warmup_steps"] = int(round(float(epochs) * steps_per_epoch))
        elif ratio is not None:
            if not 0 <= float(ratio) <= 1:
                raise ValueError(f"optim.scheduler.warmup_ratio must be in [0, 1]; got {ratio}")
            cfg["warmup_steps"] = int(round(float(ratio) * total))
        if cfg.get("warmup_steps") is None:
            cfg.pop("warmup_steps", None)
        sched = cls(optimizer, name, total, **cfg)
        w = sched.warmup_steps
        if w > total / 2:
            per_epoch = f" ({steps_per_epoch} per epoch)" if steps_per_epoch else ""
            log.warning("optim.scheduler: a warm-up of %d steps is longer than half of the training's %d steps%s; "
                        "the learning rate reaches only %.2g x lr at the end. Use warmup_epochs or warmup_ratio "
                        "(e.g. warmup_ratio: 0.1), which follow the data size", w, total, per_epoch,
                        max(sched.factor(s) for s in range(total)))
        return sched

    def factor(self, step: int) -> float:
        w = self.warmup_steps
        if self.name != "noam" and w > 0 and step < w:  # noam's warm-up is its own formula
            return (step + 1) / w
        return SCHEDULES[self.name](step, w, self.total_steps, self.final_lr_ratio)

    def _apply(self) -> None:
        f = self.factor(self.step_count)
        for g, lr in zip(self.optimizer.param_groups, self.base_lrs):
            g["lr"] = lr * f

    def step(self) -> None:
        self.step_count += 1
        self._apply()

    def get_last_lr(self):
        return [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self) -> Dict[str, Any]:
        return {"name": self.name, "step_count": self.step_count, "total_steps": self.total_steps,
                "warmup_steps": self.warmup_steps, "final_lr_ratio": self.final_lr_ratio,
                "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.step_count = int(state["step_count"])
        self.base_lrs = list(state.get("base_lrs", self.base_lrs))
        self._apply()
