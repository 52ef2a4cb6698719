"""Encoders whose weights come from outside the toolkit (``ssl``: a Hugging Face model directory).

Such an encoder class may have two static hooks, looked up by name so the other encoders need none:

* ``complete_options(options) -> options``: called by the trainer before it builds the model; it
  writes down what the outside files say (the architecture), so the resolved config of an
  experiment, and so its checkpoints, describe the model completely;
* ``options_for_state_dict(options) -> options``: called when a checkpoint is loaded; the options
  that rebuild the architecture without the outside files, whose weights the state dict replaces.

A module with ``set_training_step(step)`` is told the optimiser step before each training step
(:func:`set_training_step`), e.g. to end a warm-up with its weights frozen.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, Mapping

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


def set_training_step(model: nn.Module, step: int) -> None:
    """Tell every module of ``model`` that has ``set_training_step`` the optimiser step."""
    for module in model.modules():
        fn = getattr(module, "set_training_step", None)
        if fn is not None:
            fn(step)
