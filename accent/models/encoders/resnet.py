"""ResNet as WeSpeaker builds it for speaker embedding (wespeaker/models/resnet.py): a 2-D
ResNet on the spectrogram whose output frames fold frequency into channels, for the toolkit's
poolings (WeSpeaker's ResNet34 is this encoder + ``stats`` pooling, its TSTP).

    (B, T, D) -> (B, 1, T, D) -> conv3x3 m -> 4 stages of BasicBlocks ([3, 4, 6, 3] for ResNet34),
    channels m, 2m, 4m, 8m (m = 32), strides 1, 2, 2, 2 on both axes
    -> (B, T/8, 8m * D/8)

The blocks are the CRNN encoder's (masked batch norm, padded frames zeroed before every
convolution), so padding does not leak into valid frames.
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn as nn

from ..registry import ENCODERS
from ..masking import MaskedBatchNorm2d, zero_padding
from .crnn import _DEPTHS, BasicBlock, _down, run_resnet_trunk


@ENCODERS.register("resnet")
class ResNetEncoder(nn.Module):
    """``forward(feats (B,T,D), lengths) -> ((B,T',output_dim), lengths')``.

    Config (all optional): depth 34 (or 18, 10) or blocks [3, 4, 6, 3]; channels [32, 64, 128, 256]
    (WeSpeaker's m_channels 32); strides [1, 2, 2, 2] (time and frequency); dropout 0.0 (output).
    output_dim = channels[-1] * ceil(D / prod(strides)); T' = T / prod(strides), rounded up.
    """

    def __init__(
        self,
        input_dim: int,
        depth: int = 34,
        blocks: Optional[Sequence[int]] = None,
        channels: Sequence[int] = (32, 64, 128, 256),
        strides: Sequence[int] = (1, 2, 2, 2),
        dropout: float = 0.0,
    ):
        super().__init__()
        if blocks is None:
            if depth not in _DEPTHS:
                raise ValueError(f"resnet: depth must be one of {sorted(_DEPTHS)} (or give blocks: [...]), got {depth}")
            blocks = _DEPTHS[depth]
        blocks, channels, strides = list(blocks), list(channels), list(strides)
        if not len(blocks) == len(channels) == len(strides):
            raise ValueError("resnet: blocks, channels and strides need one entry per stage")
        if any(s not in (1, 2) for s in strides):
            raise ValueError("resnet: strides must be 1 or 2")
        self.stem = nn.Conv2d(1, channels[0], 3, stride=1, padding=1, bias=False)
        self.stem_bn = MaskedBatchNorm2d(channels[0])
        layers, in_ch, freq = [], channels[0], input_dim
        for n, ch, s in zip(blocks, channels, strides):
            for i in range(n):
                layers.append(BasicBlock(in_ch, ch, (s, s) if i == 0 else (1, 1)))
                in_ch = ch
            freq = (freq + s - 1) // s
        self.layers = nn.ModuleList(layers)
        self.strides = strides
        self.dropout = nn.Dropout(dropout)
        self.output_dim = in_ch * freq
        self.subsampling_factor = 1
        for s in strides:
            self.subsampling_factor *= s

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        for s in self.strides:
            lengths = _down(lengths, s)
        return lengths

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor):
        x, cur_len, mask = run_resnet_trunk(self.stem, self.stem_bn, self.layers, feats, lengths)
        x = zero_padding(x, mask, 2)
        b, c, t, f = x.shape
        x = x.permute(0, 2, 1, 3).reshape(b, t, c * f)
        return self.dropout(x), cur_len
