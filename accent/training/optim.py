"""Optimisers and learning-rate schedules, looked up by name (``optim.name``, ``optim.scheduler.name``)."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional

import logging

import torch

from accent.models.registry import Registry

from .scheduler import WarmupScheduler

log = logging.getLogger(__name__)

OPTIMIZERS = Registry("optimizer")
OPTIMIZERS.register("adam")(torch.optim.Adam)
OPTIMIZERS.register("adamw")(torch.optim.AdamW)  # decoupled weight decay (Loshchilov & Hutter)


def build_optimizer(params: Iterable[torch.nn.Parameter], cfg: Mapping[str, Any]) -> torch.optim.Optimizer:
    """The ``optim:`` section's optimiser over ``params``."""
    return OPTIMIZERS.get(cfg["name"])(list(params), lr=float(cfg["lr"]), betas=tuple(cfg["betas"]),
                                       eps=float(cfg["eps"]), weight_decay=float(cfg["weight_decay"]))


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: Mapping[str, Any], total_steps: int,
                    steps_per_epoch: Optional[int] = None) -> WarmupScheduler:
    """``optim.scheduler`` (:mod:`.scheduler`) over ``total_steps`` optimiser steps."""
    return WarmupScheduler.from_config(optimizer, cfg["scheduler"], total_steps, steps_per_epoch)


def mixed_precision(amp: str, device: torch.device) -> Optional[torch.dtype]:
    """``train.amp`` (bf16 | fp16 | none) as the autocast dtype on ``device``; None: float32."""
    if amp == "none":
        return None
    if device.type != "cuda":
        log.info("train.amp=%s: mixed precision is CUDA-only, training in float32 on %s", amp, device)
    elif amp == "bf16" and not torch.cuda.is_bf16_supported():
        log.warning("train.amp=bf16: this GPU has no bf16 support, training in float32")
    else:
        return torch.bfloat16 if amp == "bf16" else torch.float16
    return None
