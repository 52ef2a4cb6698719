"""Fusion of the frozen reference AM's frames with the trainable AM's frames (hybrid AR system).

Each fusion takes ``(ref_dim, dim, **config)`` and maps ``(ref_frames (B,T,ref_dim), frames
(B,T,dim), lengths)`` to ``(B, T, dim)``; names ``none`` (trainable frames only), ``add``,
``concat`` ([ref; trainable] -> 1x1 conv back to dim) and ``concat_ca`` (concat + channel
attention, then 1x1 conv back to dim).  Padded output frames are zero.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn

from .registry import FUSIONS
from .masking import masked_max, masked_mean, valid_mask, zero_padding


class _Fusion(nn.Module):
    def __init__(self, ref_dim: int, dim: int):
        super().__init__()
        self.ref_dim, self.dim, self.output_dim = ref_dim, dim, dim

    @staticmethod
    def _check(ref_frames: Optional[torch.Tensor], frames: torch.Tensor) -> None:
        if ref_frames is not None and ref_frames.shape[:2] != frames.shape[:2]:
            raise ValueError(
                f"fusion: reference frames {tuple(ref_frames.shape)} and trainable frames {tuple(frames.shape)} "
                "differ in batch or time (the two encoders must subsample alike)"
            )


@FUSIONS.register("none")
class NoFusion(_Fusion):
    """The trainable AM's frames only (the reference, if any, is ignored)."""

    def forward(self, ref_frames, frames, lengths):
        return frames


@FUSIONS.register("add")
class AddFusion(_Fusion):
    """Element-wise sum (needs ref_dim == dim)."""

    def __init__(self, ref_dim: int, dim: int):
        if ref_dim != dim:
            raise ValueError(f"fusion 'add' needs equal dims, got reference {ref_dim} and trainable {dim}")
        super().__init__(ref_dim, dim)

    def forward(self, ref_frames, frames, lengths):
        self._check(ref_frames, frames)
        return ref_frames + frames


@FUSIONS.register("concat")
class ConcatFusion(_Fusion):
    """[reference; trainable] along channels -> Conv1d k1 (a per-frame Linear) back to ``dim``."""

    def __init__(self, ref_dim: int, dim: int):
        super().__init__(ref_dim, dim)
        self.proj = nn.Conv1d(ref_dim + dim, dim, 1)

    def forward(self, ref_frames, frames, lengths):
        self._check(ref_frames, frames)
        x = torch.cat([ref_frames, frames], dim=-1)
        y = self.proj(x.transpose(1, 2)).transpose(1, 2)
        return zero_padding(y, valid_mask(lengths.to(y.device), y.size(1)), 1)


@FUSIONS.register("concat_ca", aliases=["concat_attention"])
class ConcatChannelAttentionFusion(_Fusion):
    """Concat + channel attention (squeeze-excite over masked time-max and time-average, as
    CBAM's channel attention: ``σ(MLP(avg) + MLP(max))`` with a shared 2-layer MLP of reduction
    ``ratio`` 16), the concatenated channels scaled by the weights, then Conv1d k1 back to ``dim``.

    ``last_attention`` holds the weights of the last forward, (B, ref_dim + dim), reference
    channels first (detached); ``reference_ratio()`` gives, per utterance, the summed weights on
    the reference half over those on the trainable half (the paper's analysis).
    """

    def __init__(self, ref_dim: int, dim: int, ratio: int = 16):
        super().__init__(ref_dim, dim)
        channels = ref_dim + dim
        hidden = max(1, channels // ratio)
        self.mlp = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, channels))
        self.proj = nn.Conv1d(channels, dim, 1)
        self.last_attention: Optional[torch.Tensor] = None

    def forward(self, ref_frames, frames, lengths):
        self._check(ref_frames, frames)
        x = torch.cat([ref_frames, frames], dim=-1)  # (B, T, 2d)
        mask = valid_mask(lengths.to(x.device), x.size(1))
        w = torch.sigmoid(self.mlp(masked_mean(x, mask)) + self.mlp(masked_max(x, mask)))  # (B, 2d)
        self.last_attention = w.detach()
        y = self.proj((x * w.unsqueeze(1)).transpose(1, 2)).transpose(1, 2)
        return zero_padding(y, mask, 1)

    def reference_ratio(self, attention: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(B,) sum of the weights on the reference channels / sum on the trainable channels."""
        w = self.last_attention if attention is None else attention
        if w is None:
            raise RuntimeError("concat_ca: no forward pass yet")
        return w[:, : self.ref_dim].sum(-1) / w[:, self.ref_dim:].sum(-1)
