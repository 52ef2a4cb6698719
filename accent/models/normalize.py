"""Feature normalisation inside the model, chosen by name (``data.cmvn``) as ESPnet's ``normalize``.

``global``: Kaldi-style global CMVN whose statistics are buffers of the module, so they travel in
the state dict (set from a ``cmvn.ark`` or from an ASR checkpoint before training); ``utterance``:
mean and variance of each utterance's own valid frames (the AESRC baseline's accent track);
``none``.  Every normaliser zeroes the padded frames, so a batch gives what one-by-one inference
gives.  ``forward(feats (B, T, D), mask (B, T) True on valid frames) -> (B, T, D)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from .masking import valid_mask
from .registry import NORMALIZERS

VAR_FLOOR = 1e-10  # of Kaldi's apply-cmvn


@NORMALIZERS.register("global", aliases=["global_cmvn", "global_mvn"])
class GlobalCMVN(nn.Module):
    def __init__(self, dim: int, norm_vars: bool = True):
        super().__init__()
        self.norm_vars = bool(norm_vars)
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    def set_stats(self, mean: Sequence[float], std: Sequence[float]) -> None:
        mean, std = torch.as_tensor(mean, dtype=torch.float32), torch.as_tensor(std, dtype=torch.float32)
        if mean.shape != self.mean.shape or std.shape != self.std.shape:
            raise ValueError(f"CMVN statistics of {mean.numel()} dims for {self.mean.numel()}-dim features")
        self.mean.copy_(mean)
        self.std.copy_(std)

    def forward(self, feats: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        out = feats - self.mean
        if self.norm_vars:
            out = out / self.std
        return out * mask.unsqueeze(-1).to(out.dtype)


@NORMALIZERS.register("utterance", aliases=["utterance_mvn"])
class UtteranceMVN(nn.Module):
    def __init__(self, dim: int, norm_vars: bool = True):
        super().__init__()
        self.norm_vars = bool(norm_vars)

    def forward(self, feats: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.unsqueeze(-1).to(feats.dtype)
        n = m.sum(1, keepdim=True).clamp_min(1.0)
        mean = (feats * m).sum(1, keepdim=True) / n
        out = feats - mean
        if self.norm_vars:
            var = ((out * out) * m).sum(1, keepdim=True) / n
            out = out / torch.sqrt(var.clamp_min(VAR_FLOOR))
        return out * m


@NORMALIZERS.register("none")
class NoNormalization(nn.Module):
    def __init__(self, dim: int, norm_vars: bool = True):
        super().__init__()

    def forward(self, feats: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return feats * mask.unsqueeze(-1).to(feats.dtype)


def read_cmvn_stats(path: Union[str, Path]) -> Tuple[list, list]:
    """Mean and standard deviation from a Kaldi ``cmvn.ark`` (stage 2 writes ``data/<set>/cmvn.ark``)."""
    import kaldiio
    import numpy as np

    from accent.features.cmvn import mean_std

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: CMVN statistics not found (stage 2 writes data/<set>/cmvn.ark)")
    mean, std = mean_std(np.asarray(kaldiio.load_mat(str(path)), dtype=np.float64))
    return mean.tolist(), std.tolist()


def model_state(ckpt: Mapping[str, Any]) -> Dict[str, torch.Tensor]:
    """The checkpoint's model state dict; for one written before normalisation moved into the model
    (its ``normalizer`` entry held the global statistics as lists), with those as the buffers."""
    state, norm = dict(ckpt.get("model") or {}), ckpt.get("normalizer") or {}
    if "normalize.mean" not in state and norm.get("mode") == "global" and norm.get("mean") is not None:
        state["normalize.mean"] = torch.tensor(norm["mean"], dtype=torch.float32)
        state["normalize.std"] = torch.tensor(norm["std"], dtype=torch.float32)
    return state


def checkpoint_cmvn(ckpt: Mapping[str, Any]) -> Tuple[Optional[str], Optional[torch.Tensor], Optional[torch.Tensor]]:
    """``(mode, mean, std)`` of a checkpoint's feature normaliser (mean/std None unless global)."""
    mode = ((ckpt.get("config") or {}).get("data") or {}).get("cmvn") or (ckpt.get("normalizer") or {}).get("mode")
    state = model_state(ckpt)
    if mode != "global" or "normalize.mean" not in state:
        return mode, None, None
    return mode, state["normalize.mean"], state["normalize.std"]


def normalized_input(normalize: nn.Module, feats: torch.Tensor, lengths: torch.Tensor,
                     specaug_mask: Optional[torch.Tensor] = None, specaug_value: str = "zero") -> torch.Tensor:
    """A model's input: raw features through its normaliser, SpecAugment's masks filled (training)."""
    valid = valid_mask(lengths, feats.size(1))
    x = normalize(feats, valid)
    return x if specaug_mask is None else apply_specaug_mask(x, specaug_mask, valid, specaug_value)


def apply_specaug_mask(feats: torch.Tensor, mask: torch.Tensor, valid: torch.Tensor, value: str) -> torch.Tensor:
    """SpecAugment's masks (drawn by the data pipeline, True where masked) on normalised features:
    ``zero``, or ``mean``: each utterance's mean per bin over its valid frames."""
    mask = mask.to(feats.device)
    if value == "mean":
        m = valid.unsqueeze(-1).to(feats.dtype)
        fill = ((feats * m).sum(1, keepdim=True) / m.sum(1, keepdim=True).clamp_min(1.0)).expand_as(feats)
    else:
        fill = torch.zeros_like(feats)
    return torch.where(mask, fill, feats)
