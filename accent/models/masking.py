"""Padding masks and masked building blocks shared by the encoders, poolings and fusions.

Convention: a batch of frames is (B, T, C) with ``lengths`` (B,) valid frames each, padding at the
end.  ``valid_mask(lengths, T)`` is True on valid frames.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn as nn


def valid_mask(lengths: torch.Tensor, max_len: Optional[int] = None) -> torch.Tensor:
    """(B, T) bool mask, True on valid frames (``t < lengths[b]``)."""
    if max_len is None:
        max_len = int(lengths.max().item()) if lengths.numel() else 0
    t = torch.arange(max_len, device=lengths.device)
    return t.unsqueeze(0) < lengths.unsqueeze(1)


def pad_mask(lengths: torch.Tensor, max_len: Optional[int] = None) -> torch.Tensor:
    """(B, T) bool mask, True on padded frames (the ``key_padding_mask`` convention of PyTorch)."""
    return ~valid_mask(lengths, max_len)


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """Mean of ``x`` (B, T, C) over valid frames; ``mask`` (B, T) True on valid frames.
    Accumulated in float32 (half-precision inputs too), returned in x's dtype."""
    xf = x.float()
    m = mask.to(x.device).unsqueeze(-1).float()
    return ((xf * m).sum(dim) / m.sum(dim).clamp_min(1.0)).to(x.dtype)


def masked_mean_std(x: torch.Tensor, mask: torch.Tensor, unbiased: bool = True, eps: float = 1e-7):
    """Mean and standard deviation over the valid frames of x (B, T, C) (WeSpeaker's TSTP)."""
    dtype, x = x.dtype, x.float()  # statistics in float32 (half-precision inputs too)
    m = mask.to(x.device).unsqueeze(-1).float()
    n = m.sum(1)  # (B, 1)
    mean = (x * m).sum(1) / n.clamp_min(1.0)
    var = (((x - mean.unsqueeze(1)) ** 2) * m).sum(1)
    var = var / ((n - 1.0).clamp_min(1.0) if unbiased else n.clamp_min(1.0))
    return mean.to(dtype), torch.sqrt(var + eps).to(dtype)


def masked_max(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Max over valid frames of x (B, T, C)."""
    return x.masked_fill(~mask.to(x.device).unsqueeze(-1), float("-inf")).max(1).values


def zero_padding(x: torch.Tensor, mask: Optional[torch.Tensor], time_dim: int) -> torch.Tensor:
    """Zero the padded time steps of ``x``; ``mask`` (B, T) True on valid frames, ``time_dim`` the time axis of x."""
    if mask is None:
        return x
    shape = [1] * x.dim()
    shape[0], shape[time_dim] = mask.shape[0], mask.shape[1]
    return x * mask.view(shape).to(device=x.device, dtype=x.dtype)


def _masked_batch_norm(bn: nn.modules.batchnorm._BatchNorm, x: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
    """Batch norm whose training statistics use only the valid time steps (time axis = dim 2)."""
    use_batch_stats = bn.training or not bn.track_running_stats
    if mask is None or not use_batch_stats or bool(mask.all()):
        return nn.modules.batchnorm._BatchNorm.forward(bn, x)
    dtype, x = x.dtype, x.float()  # statistics in float32 (half-precision inputs too)
    shape = [1] * x.dim()
    shape[0], shape[2] = mask.shape[0], mask.shape[1]
    m = mask.view(shape).to(device=x.device, dtype=x.dtype)
    reduce_dims = [d for d in range(x.dim()) if d != 1]
    n = (m.expand_as(x[:, :1]).sum()).clamp_min(1.0)  # valid elements per channel
    mean = (x * m).sum(reduce_dims) / n
    centred = x - mean.view(1, -1, *([1] * (x.dim() - 2)))
    var = ((centred ** 2) * m).sum(reduce_dims) / n
    if bn.training and bn.track_running_stats:
        with torch.no_grad():
            bn.num_batches_tracked.add_(1)
            factor = (1.0 / float(bn.num_batches_tracked)) if bn.momentum is None else bn.momentum
            unbiased = var * (n / (n - 1.0).clamp_min(1.0))
            bn.running_mean.mul_(1 - factor).add_(factor * mean.detach())
            bn.running_var.mul_(1 - factor).add_(factor * unbiased.detach())
    view = (1, -1) + (1,) * (x.dim() - 2)
    y = centred * torch.rsqrt(var + bn.eps).view(view)
    if bn.affine:
        y = y * bn.weight.view(view) + bn.bias.view(view)
    return y.to(dtype)


class MaskedBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm1d over (B, C, T) whose batch statistics ignore padded frames.

    Same parameters and buffers as ``nn.BatchNorm1d`` (state dicts are interchangeable); in eval
    mode it is exactly ``nn.BatchNorm1d``.  Note: ``nn.SyncBatchNorm.convert_sync_batchnorm`` would
    replace it by a SyncBatchNorm that does not take the mask, so do not convert these models.
    """

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:  # type: ignore[override]
        return _masked_batch_norm(self, x, mask)


class MaskedBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d over (B, C, T, F) whose batch statistics ignore padded frames (mask (B, T))."""

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:  # type: ignore[override]
        return _masked_batch_norm(self, x, mask)


def sinusoidal_positions(length: int, dim: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """(length, dim) sinusoidal positional encodings (Vaswani et al.; ESPnet's PositionalEncoding)."""
    pos = torch.arange(length, device=device, dtype=torch.float32).unsqueeze(1)
    div = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    pe = torch.zeros(length, dim, device=device, dtype=torch.float32)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div[: dim // 2])
    return pe.to(dtype)


class PositionalEncoding(nn.Module):
    """ESPnet's PositionalEncoding: ``dropout(x * sqrt(d) + PE)`` (``scale=False`` skips the sqrt(d))."""

    def __init__(self, dim: int, dropout: float = 0.1, scale: bool = True):
        super().__init__()
        self.dim = dim
        self.xscale = math.sqrt(dim) if scale else 1.0
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pe = sinusoidal_positions(x.size(1), self.dim, device=x.device, dtype=x.dtype)
        return self.dropout(x * self.xscale + pe.unsqueeze(0))


def reverse_within_lengths(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Each sequence of x (B, T, C) reversed within its own length (padded frames stay in place);
    applying it twice gives x back."""
    t = torch.arange(x.size(1), device=x.device).unsqueeze(0)
    last = lengths.to(x.device).unsqueeze(1) - 1
    index = torch.where(t <= last, last - t, t)
    return x.gather(1, index.unsqueeze(-1).expand(-1, -1, x.size(2)))


@torch.library.custom_op("accent::gru_forward", mutates_args=())
def gru_forward(x: torch.Tensor, w_ih: torch.Tensor, w_hh: torch.Tensor, b_ih: torch.Tensor,
                b_hh: torch.Tensor) -> torch.Tensor:
    """One GRU layer and direction over x (B, T, C) from a zero state -> (B, T, H).

    An opaque op under ``torch.export``: the stock decomposition of ``aten.gru`` unrolls time and
    so fixes the sequence length; ``accent.export`` translates this op to ONNX's GRU instead.
    """
    h0 = x.new_zeros(1, x.size(0), w_hh.size(1))
    return torch.gru(x, h0, [w_ih, w_hh, b_ih, b_hh], True, 1, 0.0, False, False, True)[0]


@gru_forward.register_fake
def _gru_forward_shape(x, w_ih, w_hh, b_ih, b_hh):
    return x.new_empty(x.size(0), x.size(1), w_hh.size(1))


def _gru_direction(gru: nn.GRU, x: torch.Tensor, layer: int, reverse: bool) -> torch.Tensor:
    """One layer and direction of ``gru`` (batch_first) run forward over x, with that direction's weights."""
    suffix = f"_l{layer}" + ("_reverse" if reverse else "")
    w_ih, w_hh = getattr(gru, "weight_ih" + suffix), getattr(gru, "weight_hh" + suffix)
    if torch.compiler.is_exporting():
        zero = w_ih.new_zeros(w_ih.size(0))
        b_ih, b_hh = (getattr(gru, "bias_ih" + suffix), getattr(gru, "bias_hh" + suffix)) if gru.bias else (zero, zero)
        return gru_forward(x, w_ih, w_hh, b_ih, b_hh)
    params = [w_ih, w_hh] + ([getattr(gru, "bias_ih" + suffix), getattr(gru, "bias_hh" + suffix)] if gru.bias else [])
    h0 = x.new_zeros(1, x.size(0), gru.hidden_size)
    return torch.gru(x, h0, params, gru.bias, 1, 0.0, False, False, True)[0]


def run_gru(gru: nn.GRU, x: torch.Tensor, lengths: torch.Tensor):
    """A batch_first ``nn.GRU`` over the valid frames of x (B, T, C) without packed sequences.

    The forward direction runs over the padded batch (padding comes after the valid frames, so it
    cannot reach them); the backward direction runs forward over each sequence reversed within its
    length.  The valid outputs equal those of ``pack_padded_sequence``, and unlike packing this
    traces and exports (TorchScript, ONNX) with dynamic batch and time.  Returns the outputs
    (B, T, dirs * H), padded frames zero, and the final states (B, dirs * H): the forward
    direction's at the last valid frame, the backward direction's at the first (as ``h_n``).
    """
    lengths = lengths.to(x.device).clamp_min(1)
    inp = x
    for layer in range(gru.num_layers):
        outs = [_gru_direction(gru, inp, layer, False)]
        if gru.bidirectional:
            rev = _gru_direction(gru, reverse_within_lengths(inp, lengths), layer, True)
            outs.append(reverse_within_lengths(rev, lengths))
        inp = torch.cat(outs, dim=-1) if len(outs) > 1 else outs[0]
        if layer < gru.num_layers - 1 and gru.dropout > 0:
            inp = nn.functional.dropout(inp, gru.dropout, gru.training)
    out = zero_padding(inp, valid_mask(lengths, inp.size(1)), 1)
    h = gru.hidden_size
    last = (lengths - 1).view(-1, 1, 1).expand(-1, 1, h)
    final = [out[:, :, :h].gather(1, last).squeeze(1)]
    if gru.bidirectional:
        final.append(out[:, 0, h:])
    return out, torch.cat(final, dim=-1)


def run_transformer_layers(layers: nn.ModuleList, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Apply ``nn.TransformerEncoderLayer``s (batch_first) with a key padding mask."""
    kpm = pad_mask(lengths.to(x.device), x.size(1))
    for layer in layers:
        x = layer(x, src_key_padding_mask=kpm)
    return x
