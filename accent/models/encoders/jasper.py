"""Jasper BxR acoustic model (Li et al., 2019), the 5x3 configuration of the hybrid AR system.

Layout (defaults = paper size, 40-dim FBank in)::

    prologue   Conv1d 256, k 11, stride 2                       -> half frame rate
    block 1-5  3 sub-blocks each: Conv1d -> BN -> ReLU -> Dropout
               channels/kernels 256/11, 256/11, 384/13, 384/13, 512/17
               residual per block: 1x1 Conv1d + BN of the block input, added after the last
               sub-block's BN and before its ReLU (Jasper's "Conv-BN-(+res)-ReLU-Dropout")
    epilogue   Conv1d 896, k 29, dilation 2;  Conv1d 1024, k 1   -> (B, T', 1024)

All convolutions use 'same' padding (the prologue: padding k//2 with stride 2, so
T' = ceil(T / 2)).  Padding is respected: the padded frames of the input of every convolution are
zeroed, and batch norm statistics in training use the valid frames only (``MaskedBatchNorm1d``), so
in eval mode a padded batch gives the same valid outputs as each utterance alone.  Padded output
frames are zero.
"""

from __future__ import annotations

from typing import List, Sequence, Union

import torch
import torch.nn as nn

from ..registry import ENCODERS
from ..masking import MaskedBatchNorm1d, valid_mask, zero_padding


class MaskedConvBN(nn.Module):
    """Conv1d (bias-free) + masked BN, with the conv input's padded frames zeroed."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, dilation: int = 1):
        super().__init__()
        padding = dilation * (kernel - 1) // 2
        self.conv = nn.Conv1d(in_ch, out_ch, kernel, stride=stride, padding=padding, dilation=dilation, bias=False)
        self.bn = MaskedBatchNorm1d(out_ch, eps=1e-3, momentum=0.1)

    def forward(self, x: torch.Tensor, in_mask: torch.Tensor, out_mask: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(zero_padding(x, in_mask, 2)), out_mask)


class JasperBlock(nn.Module):
    """R sub-blocks of Conv1d-BN-ReLU-Dropout with a 1x1 Conv+BN residual into the last one."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, repeat: int = 3, dropout: float = 0.2, residual: bool = True):
        super().__init__()
        self.convs = nn.ModuleList(
            [MaskedConvBN(in_ch if i == 0 else out_ch, out_ch, kernel) for i in range(repeat)]
        )
        self.residual = MaskedConvBN(in_ch, out_ch, 1) if residual else None
        self.act = nn.ReLU()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        out = x
        for i, conv in enumerate(self.convs):
            out = conv(out, mask, mask)
            if i < len(self.convs) - 1:
                out = self.dropout(self.act(out))
        if self.residual is not None:
            out = out + self.residual(x, mask, mask)
        return self.dropout(self.act(out))


@ENCODERS.register("jasper")
class JasperEncoder(nn.Module):
    """Jasper BxR encoder; ``forward(feats (B,T,D), lengths) -> (frames (B,T',output_dim), lengths')``.

    Config (all optional):
      channels:  per-block channels, default [256, 256, 384, 384, 512]
      kernels:   per-block kernel sizes, default [11, 11, 13, 13, 17]
      repeat:    sub-blocks per block (R), default 3
      dropout:   float, or per-block list (default Jasper 5x3's 0.2 x4, 0.3)
      prologue_channels / prologue_kernel / stride: 256 / 11 / 2
      epilogue_channels / epilogue_kernel / epilogue_dilation: 896 / 29 / 2
      output_dim: 1024 (the final 1x1 conv)
      prologue_dropout / epilogue_dropout: 0.2 / 0.4
      residual: True
    """

    def __init__(
        self,
        input_dim: int,
        channels: Sequence[int] = (256, 256, 384, 384, 512),
        kernels: Sequence[int] = (11, 11, 13, 13, 17),
        repeat: int = 3,
        dropout: Union[float, Sequence[float]] = (0.2, 0.2, 0.2, 0.2, 0.3),
        prologue_channels: int = 256,
        prologue_kernel: int = 11,
        stride: int = 2,
        epilogue_channels: int = 896,
        epilogue_kernel: int = 29,
        epilogue_dilation: int = 2,
        output_dim: int = 1024,
        prologue_dropout: float = 0.2,
        epilogue_dropout: float = 0.4,
        residual: bool = True,
    ):
        super().__init__()
        channels, kernels = list(channels), list(kernels)
        if len(channels) != len(kernels):
            raise ValueError(f"jasper: {len(channels)} channels but {len(kernels)} kernels")
        if isinstance(dropout, (int, float)):
            dropouts: List[float] = [float(dropout)] * len(channels)
        else:
            dropouts = list(dropout)
            if len(dropouts) != len(channels):
                raise ValueError(f"jasper: {len(dropouts)} dropouts for {len(channels)} blocks")
        if prologue_kernel % 2 == 0 or epilogue_kernel % 2 == 0 or any(k % 2 == 0 for k in kernels):
            raise ValueError("jasper: kernel sizes must be odd for 'same' padding")
        self.input_dim = input_dim
        self.stride = int(stride)
        self.subsampling_factor = self.stride
        self.output_dim = int(output_dim)

        self.prologue = MaskedConvBN(input_dim, prologue_channels, prologue_kernel, stride=self.stride)
        self.prologue_drop = nn.Dropout(prologue_dropout)
        blocks = []
        in_ch = prologue_channels
        for ch, k, p in zip(channels, kernels, dropouts):
            blocks.append(JasperBlock(in_ch, ch, k, repeat=repeat, dropout=p, residual=residual))
            in_ch = ch
        self.blocks = nn.ModuleList(blocks)
        self.epilogue1 = MaskedConvBN(in_ch, epilogue_channels, epilogue_kernel, dilation=epilogue_dilation)
        self.epilogue2 = MaskedConvBN(epilogue_channels, self.output_dim, 1)
        self.epilogue_drop = nn.Dropout(epilogue_dropout)
        self.act = nn.ReLU()

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """ceil(lengths / stride) (the prologue's 'same' padding)."""
        return torch.div(lengths + self.stride - 1, self.stride, rounding_mode="floor")

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor):
        lengths = lengths.to(feats.device)
        x = feats.transpose(1, 2)  # (B, D, T)
        in_mask = valid_mask(lengths, x.size(2))
        out_lengths = self.output_lengths(lengths)
        t_out = (x.size(2) + self.stride - 1) // self.stride
        mask = valid_mask(out_lengths, t_out)
        x = self.prologue_drop(self.act(self.prologue(x, in_mask, mask)))
        for block in self.blocks:
            x = block(x, mask)
        x = self.epilogue_drop(self.act(self.epilogue1(x, mask, mask)))
        x = self.epilogue_drop(self.act(self.epilogue2(x, mask, mask)))
        x = zero_padding(x, mask, 2)
        return x.transpose(1, 2), out_lengths
