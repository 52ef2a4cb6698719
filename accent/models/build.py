"""Building models from a resolved config, and loading trained ones back from checkpoints.

Scoring, the analyses, inference and export load models through here, never through
``accent.training``."""

from __future__ import annotations

import logging
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from .accent_model import AccentModel, AsrModel, load_encoder_from_asr
from .encoders.pretrained import options_for_state_dict
from .checkpoint import PathLike, load_checkpoint
from .normalize import model_state

log = logging.getLogger(__name__)


def build_model(cfg: Mapping[str, Any], input_dim: int, labels: Optional[Sequence[str]],
                units: Optional[Sequence[str]]) -> nn.Module:
    """``AsrModel`` for ``task: asr``, ``AccentModel`` for ``task: accent``; the feature normaliser
    is ``data.cmvn`` (its global statistics are set afterwards, or come with a state dict)."""
    model_cfg, data_cfg = cfg["model"], cfg.get("data") or {}
    norm = {"normalize": data_cfg.get("cmvn", "none"),
            "specaug_value": (data_cfg.get("specaug") or {}).get("mask_value", "zero")}
    if cfg["task"] == "asr":
        if not units:
            raise ValueError("an ASR model needs the unit list (units.txt)")
        return AsrModel.from_config(model_cfg, input_dim, len(units), **norm)
    if not labels:
        raise ValueError("an accent model needs the label list")
    num_units = len(units) if units else None
    return AccentModel.from_config(model_cfg, input_dim, len(labels), num_units, **norm)


def count_parameters(model: nn.Module) -> Dict[str, int]:
    total = sum(p.numel() for p in model.parameters())
    params = model.trainable_parameters() if hasattr(model, "trainable_parameters") else model.parameters()
    trainable = sum(p.numel() for p in params if p.requires_grad)
    return {"total": int(total), "trainable": int(trainable)}


def load_model(checkpoint: Union[PathLike, Mapping[str, Any]], device: Union[str, torch.device] = "cpu"
               ) -> Tuple[nn.Module, Dict[str, Any]]:
    """A trained model (eval mode) and its checkpoint dict (config, labels, units, frontend)."""
    ckpt = load_checkpoint(checkpoint) if not isinstance(checkpoint, Mapping) else dict(checkpoint)
    # the weights are in the state dict: an ssl encoder's model directory is not read again
    cfg = {**ckpt["config"], "model": options_for_state_dict(ckpt["config"]["model"])}
    model = build_model(cfg, int(ckpt["input_dim"]), ckpt.get("labels"), ckpt.get("units"))
    model.load_state_dict(model_state(ckpt))
    model.to(device).eval()
    return model, ckpt


def init_from_asr(model: nn.Module, asr_ckpt: Mapping[str, Any], method: str,
                  units: Optional[Sequence[str]], source: str = "") -> Dict[str, Any]:
    """Initialise an accent model from a stage-4 ASR checkpoint, as the method says.

    asr_init: the encoder.  mtl: the encoder, and the CTC head when the unit lists agree, or its
    rows of the shared units when ours extend the ASR's list (degraded transcripts add broad-class
    tokens after the phones; the new rows keep their random init).  hybrid: as mtl, plus the frozen
    reference encoder.  Architecture mismatches raise naming the checkpoint.  Returns a summary
    dict for the log (``ctc_head``: False, True, or the number of rows copied when only some were).
    """
    if asr_ckpt.get("task") not in (None, "asr"):
        raise ValueError(f"{source}: not an ASR checkpoint (task {asr_ckpt.get('task')!r})")
    targets = ["encoder", "reference_encoder"] if method == "hybrid" else ["encoder"]
    try:
        load_encoder_from_asr(model, asr_ckpt, targets=targets)
    except RuntimeError as e:
        raise ValueError(f"{source}: its encoder does not fit this model's encoder config: {e}") from None
    done = {"encoders": targets, "ctc_head": False}
    ctc_head = getattr(model, "ctc_head", None)
    if method in ("mtl", "hybrid") and ctc_head is not None:
        asr_units = asr_ckpt.get("units")
        state = asr_ckpt["model"]
        head = {k[len("ctc_head."):]: v for k, v in state.items() if k.startswith("ctc_head.")}
        shared = len(asr_units) if asr_units is not None else 0
        if asr_units is not None and units is not None and list(asr_units) == list(units) and head:
            ctc_head.load_state_dict(head)
            done["ctc_head"] = True
        elif (asr_units is not None and units is not None and len(units) > shared
              and list(units[:shared]) == list(asr_units) and head):
            _copy_head_rows(ctc_head, head, shared, source)
            done["ctc_head"] = shared
            log.info("%s: CTC head rows of its %d units copied; our %d extra units (%s) start random", source,
                     shared, len(units) - shared, " ".join(units[shared:]))
        else:
            log.warning("%s: its units differ from ours; the CTC head starts from random weights", source)
    return done


def _copy_head_rows(ctc_head: nn.Module, head: Mapping[str, torch.Tensor], rows: int, source: str) -> None:
    """Copy the ASR head's per-unit rows (first dim of weight and bias) into our larger head."""
    own = ctc_head.state_dict()
    if set(own) != set(head):
        raise ValueError(f"{source}: its CTC head has parameters {sorted(head)}, ours {sorted(own)}")
    for name, value in head.items():
        if value.shape[0] != rows or value.shape[1:] != own[name].shape[1:]:
            raise ValueError(f"{source}: CTC head {name} of shape {tuple(value.shape)} does not fit "
                             f"ours {tuple(own[name].shape)}")
        own[name][:rows] = value
    ctc_head.load_state_dict(own)
