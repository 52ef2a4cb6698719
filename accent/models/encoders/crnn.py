"""CRNN encoder of SAR-Net: a thin ResNet on the spectrogram, a dense layer and a BiGRU.

    (B, T, D) -> (B, 1, T, D) -> conv3x3 32 -> ResNet stages (BasicBlocks [3,4,6,3] for
    ResNet-34, [2,2,2,2] for ResNet-18; channels 32/64/128/256)
    -> fold frequency into channels: (B, T', 256 * D') -> Linear 256 -> LayerNorm
    -> BiGRU (hidden 256 per direction) -> (B, T', 512)

Strides (our choice, documented): every stage halves the frequency axis (40 -> 20 -> 10 -> 5 -> 3
bins), and only the first two stages halve time, so T' = ceil(ceil(T/2)/2) (x4 subsampling, 40 ms
per output frame — as the Transformer baseline, fine enough for the phone CTC branch).  Unlike the
original SAR-Net, which flattened time x frequency, time stays the sequence axis so padding can be
masked: the padded frames of every convolution's input are zeroed, batch norm statistics use
valid frames only, and the BiGRU reads valid frames only (``run_gru``).  Padded output frames are zero.
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..registry import ENCODERS
from ..masking import MaskedBatchNorm2d, run_gru, valid_mask, zero_padding

_DEPTHS = {10: [1, 1, 1, 1], 18: [2, 2, 2, 2], 34: [3, 4, 6, 3]}


def _down(lengths: torch.Tensor, stride: int) -> torch.Tensor:
    # conv k3 p1 (and k1 p0) with stride s: floor((L - 1) / s) + 1 = ceil(L / s)
    return torch.div(lengths + stride - 1, stride, rounding_mode="floor")


class BasicBlock(nn.Module):
    """ResNet BasicBlock (two 3x3 convs) with masked BN and padded frames zeroed before each conv."""

    def __init__(self, in_ch: int, out_ch: int, stride=(1, 1)):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn1 = MaskedBatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, stride=1, padding=1, bias=False)
        self.bn2 = MaskedBatchNorm2d(out_ch)
        self.shortcut: Optional[nn.Module] = None
        if tuple(stride) != (1, 1) or in_ch != out_ch:
            self.shortcut = nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False)
            self.shortcut_bn = MaskedBatchNorm2d(out_ch)

    def forward(self, x: torch.Tensor, in_mask: torch.Tensor, out_mask: torch.Tensor) -> torch.Tensor:
        x = zero_padding(x, in_mask, 2)
        out = F.relu(self.bn1(self.conv1(x), out_mask))
        out = self.bn2(self.conv2(zero_padding(out, out_mask, 2)), out_mask)
        res = x if self.shortcut is None else self.shortcut_bn(self.shortcut(x), out_mask)
        return F.relu(out + res)


def run_resnet_trunk(stem: nn.Module, stem_bn: nn.Module, layers: Sequence[BasicBlock], feats: torch.Tensor,
                     lengths: torch.Tensor):
    """The 2-D ResNet of the CRNN and ResNet encoders on (B, T, D) features: (B, C, T', D') maps,
    their lengths T' and the (B, T') valid mask; each block's padded input frames are zeroed."""
    cur_len = lengths.to(feats.device)
    x = feats.unsqueeze(1)  # (B, 1, T, D)
    mask = valid_mask(cur_len, x.size(2))
    x = F.relu(stem_bn(stem(zero_padding(x, mask, 2)), mask))
    for layer in layers:
        stride_t = layer.conv1.stride[0]
        new_len = _down(cur_len, stride_t)
        new_mask = valid_mask(new_len, (x.size(2) + stride_t - 1) // stride_t)
        x = layer(x, mask, new_mask)
        cur_len, mask = new_len, new_mask
    return x, cur_len, mask


@ENCODERS.register("crnn")
class CRNNEncoder(nn.Module):
    """Thin-ResNet + Dense + BiGRU; ``forward(feats (B,T,D), lengths) -> ((B,T',output_dim), lengths')``.

    Config (all optional):
      depth: 18 | 34 (default 34) or blocks: e.g. [3, 4, 6, 3] (wins over depth)
      channels: [32, 64, 128, 256]
      time_strides: [2, 2, 1, 1]      freq_strides: [2, 2, 2, 2]
      dense_dim: 256                 gru_hidden: 256 (per direction)
      gru_layers: 1                  bidirectional: True
      dropout: 0.0 (after the dense layer and between GRU layers)
    output_dim = gru_hidden * (2 if bidirectional else 1).
    """

    def __init__(
        self,
        input_dim: int,
        depth: int = 34,
        blocks: Optional[Sequence[int]] = None,
        channels: Sequence[int] = (32, 64, 128, 256),
        time_strides: Sequence[int] = (2, 2, 1, 1),
        freq_strides: Sequence[int] = (2, 2, 2, 2),
        dense_dim: int = 256,
        gru_hidden: int = 256,
        gru_layers: int = 1,
        bidirectional: bool = True,
        dropout: float = 0.0,
    ):
        super().__init__()
        if blocks is None:
            if depth not in _DEPTHS:
                raise ValueError(f"crnn: depth must be one of {sorted(_DEPTHS)} (or give blocks: [...]), got {depth}")
            blocks = _DEPTHS[depth]
        blocks, channels = list(blocks), list(channels)
        time_strides, freq_strides = list(time_strides), list(freq_strides)
        if not (len(blocks) == len(channels) == len(time_strides) == len(freq_strides)):
            raise ValueError("crnn: blocks, channels, time_strides and freq_strides need one entry per stage")
        if any(s not in (1, 2) for s in time_strides + freq_strides):
            raise ValueError("crnn: strides must be 1 or 2")
        self.input_dim = input_dim
        self.time_strides = time_strides
        self.subsampling_factor = 1
        for s in time_strides:
            self.subsampling_factor *= s

        self.stem = nn.Conv2d(1, channels[0], 3, stride=1, padding=1, bias=False)
        self.stem_bn = MaskedBatchNorm2d(channels[0])
        layers = []
        in_ch = channels[0]
        freq = input_dim
        for n, ch, ts, fs in zip(blocks, channels, time_strides, freq_strides):
            for i in range(n):
                stride = (ts, fs) if i == 0 else (1, 1)
                layers.append(BasicBlock(in_ch, ch, stride))
                in_ch = ch
            freq = (freq + fs - 1) // fs
        self.layers = nn.ModuleList(layers)
        self.freq_out = freq
        self.dense = nn.Linear(in_ch * freq, dense_dim)
        self.norm = nn.LayerNorm(dense_dim)
        self.dropout = nn.Dropout(dropout)
        self.gru = nn.GRU(
            dense_dim, gru_hidden, num_layers=gru_layers, batch_first=True,
            bidirectional=bidirectional, dropout=dropout if gru_layers > 1 else 0.0,
        )
        self.output_dim = gru_hidden * (2 if bidirectional else 1)

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        for s in self.time_strides:
            lengths = _down(lengths, s)
        return lengths

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor):
        x, cur_len, _ = run_resnet_trunk(self.stem, self.stem_bn, self.layers, feats, lengths)
        b, c, t, f = x.shape
        x = x.permute(0, 2, 1, 3).reshape(b, t, c * f)  # frequency folded into channels
        x = self.dropout(self.norm(self.dense(x)))
        out, _ = run_gru(self.gru, x, cur_len)
        return out, cur_len
