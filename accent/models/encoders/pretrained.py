"""Encoders whose weights come from outside the toolkit (``ssl``: a Hugging Face model directory).

Such an encoder class may have two static hooks, looked up by name so the other encoders need none:

* ``complete_options(options) -> options``: called by the trainer before it builds the model; it
  writes down what the outside files say (the architecture), so the resolved config of an
  experiment, and so its checkpoints, describe the model completely;
* ``options_for_state_dict(options) -> options``: called when a checkpoint is loaded; the options
  that rebuild the architecture without the outside files, whose weights the state dict replaces.

A module with ``set_training_step(step)`` is told the optimiser step before each training step
(:func:`set_training_step`), e.g. to end a warm-up with its weights frozen (its
``unfreeze_after_steps`` > 0: those steps leave parameters unused, :func:`leaves_parameters_unused`); the parameters of a
module with an ``lr_scale`` attribute learn at that fraction of the learning rate
(:func:`parameter_groups`), e.g. a pretrained model fine-tuned under a new head.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, Iterable, List, Mapping, Sequence

import torch

import torch.nn as nn

from ..registry import ENCODERS

ENCODER_KEYS = ("encoder", "reference_encoder")


def _apply(model_cfg: Mapping[str, Any], hook: str) -> Dict[str, Any]:
    out = copy.deepcopy(dict(model_cfg))
    for key in ENCODER_KEYS:
        options = out.get(key)
        if isinstance(options, Mapping) and "name" in options:
            fn = getattr(ENCODERS.get(options["name"]), hook, None)
            if fn is not None:
                name = options["name"]
                out[key] = {"name": name, **fn({k: v for k, v in options.items() if k != "name"})}
    return out


def complete_encoder_options(model_cfg: Mapping[str, Any]) -> Dict[str, Any]:
    """The ``model:`` section with every encoder's ``complete_options`` applied."""
    return _apply(model_cfg, "complete_options")


def options_for_state_dict(model_cfg: Mapping[str, Any]) -> Dict[str, Any]:
    """The ``model:`` section with every encoder's ``options_for_state_dict`` applied."""
    return _apply(model_cfg, "options_for_state_dict")


def weighted_layer_sum(states: torch.Tensor, layer_weights: torch.Tensor) -> torch.Tensor:
    """SUPERB's learnable weighted sum of a pretrained model's layers: (L, B, T, H) states, L
    weights (logits, softmax-normalised) -> (B, T, H)."""
    w = torch.softmax(layer_weights, dim=0).to(states.dtype)
    return (w.view(-1, 1, 1, 1) * states).sum(0)


class FreezeSchedule:
    """Mixin of an encoder with pretrained ``modules``: ``freeze`` (fixed for good), or fine-tuned
    after ``unfreeze_after_steps`` optimiser steps (0: from the start); :attr:`frozen_now` says
    which holds at the current step, which :func:`set_training_step` tells it."""

    def init_freeze_schedule(self, freeze: bool, unfreeze_after_steps: int, modules: Sequence[nn.Module],
                             what: str) -> None:
        self.freeze = bool(freeze)
        self.unfreeze_after_steps = int(unfreeze_after_steps)
        if self.unfreeze_after_steps < 0 or (self.freeze and self.unfreeze_after_steps):
            raise ValueError(f"{what}: unfreeze_after_steps needs freeze: false (it is the warm-up of "
                             "a fine-tuning) and must be >= 0")
        self.step = 0
        if self.freeze:
            for module in modules:
                module.requires_grad_(False)

    def set_training_step(self, step: int) -> None:
        self.step = int(step)

    @property
    def frozen_now(self) -> bool:
        return self.freeze or self.step < self.unfreeze_after_steps


def set_training_step(model: nn.Module, step: int) -> None:
    """Tell every module of ``model`` that has ``set_training_step`` the optimiser step."""
    for module in model.modules():
        fn = getattr(module, "set_training_step", None)
        if fn is not None:
            fn(step)


def leaves_parameters_unused(model: nn.Module) -> bool:
    """Whether some training steps leave trainable parameters without gradients (a module's frozen
    warm-up), which data-parallel training must be told (``find_unused_parameters``)."""
    return any(getattr(module, "unfreeze_after_steps", 0) > 0 for module in model.modules())


def parameter_groups(model: nn.Module, params: Iterable[nn.Parameter], lr: float) -> List[Dict[str, Any]]:
    """Optimiser groups of ``params``: those of modules with an ``lr_scale`` at ``lr * lr_scale``,
    the others at ``lr`` (one group when no module has a scale)."""
    scale = {}
    for module in model.modules():
        if getattr(module, "lr_scale", None) is not None:
            scale.update({id(p): float(module.lr_scale) for p in module.parameters()})
    groups: Dict[float, List[nn.Parameter]] = {}
    for p in params:
        groups.setdefault(scale.get(id(p), 1.0), []).append(p)
    return [{"params": ps, "lr": lr * s} for s, ps in sorted(groups.items(), reverse=True)]
