"""ECAPA-TDNN (Desplanques et al., Interspeech 2020), the encoder of CommonAccent and of most
language/accent-ID systems since.

    (B, T, D) -> Conv1d k5 C -> 3 x SE-Res2Block (k3, dilation 2/3/4, scale 8, SE bottleneck 128)
    -> multi-layer feature aggregation: concat of the three blocks' outputs -> Conv1d k1 -> mfa_dim
    -> (B, T, mfa_dim)

The paper's channel- and context-dependent attentive statistics pooling is the toolkit's
``asp`` pooling with ``global_context: true`` (``channel_wise`` attention over the frames, with
the utterance mean and std appended to every frame's attention input); the paper's 192-dim
embedding is ``embed_dim``. C = 512 (``channels``) is the paper's small model, 1024 the large.

No subsampling: one output frame per input frame.  Padding is masked so that a padded batch
gives the same outputs as its utterances one by one: padded frames are zeroed before every
convolution (so a convolution sees zeros beyond an utterance's end, as it would alone), batch
norm statistics and the SE block's mean use valid frames only.
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..registry import ENCODERS
from ..masking import MaskedBatchNorm1d, masked_mean, valid_mask, zero_padding


class _ConvBlock(nn.Module):
    """Conv1d -> ReLU -> BN (SpeechBrain's TDNNBlock order), input padding zeroed first."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int = 1, dilation: int = 1):
        super().__init__()
        self.conv = nn.Conv1d(in_ch, out_ch, kernel, dilation=dilation, padding=dilation * (kernel - 1) // 2)
        self.bn = MaskedBatchNorm1d(out_ch)

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
        return self.bn(F.relu(self.conv(zero_padding(x, mask, 2))), mask)


class _Res2Conv(nn.Module):
    """Res2Net's hierarchical convolutions: the channels in ``scale`` groups, each group's
    convolution also fed the previous group's output (the first group passes through)."""

    def __init__(self, channels: int, kernel: int, dilation: int, scale: int):
        super().__init__()
        if channels % scale:
            raise ValueError(f"ecapa: channels ({channels}) must be divisible by res2net_scale ({scale})")
        self.scale, width = scale, channels // scale
        self.blocks = nn.ModuleList(_ConvBlock(width, width, kernel, dilation) for _ in range(scale - 1))

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
        parts = torch.chunk(x, self.scale, dim=1)
        out = [parts[0]]
        y = None
        for i, block in enumerate(self.blocks):
            y = block(parts[i + 1] if y is None else parts[i + 1] + y, mask)
            out.append(y)
        return torch.cat(out, dim=1)


class _SqueezeExcitation(nn.Module):
    def __init__(self, channels: int, bottleneck: int):
        super().__init__()
        self.fc1 = nn.Conv1d(channels, bottleneck, 1)
        self.fc2 = nn.Conv1d(bottleneck, channels, 1)

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
        if mask is None:
            s = x.mean(2, keepdim=True)
        else:
            s = masked_mean(x.transpose(1, 2), mask).unsqueeze(2)  # (B, C, 1) over valid frames
        return x * torch.sigmoid(self.fc2(F.relu(self.fc1(s))))


class SERes2Block(nn.Module):
    """1x1 conv -> Res2Net dilated convs -> 1x1 conv -> squeeze-excitation, plus the residual."""

    def __init__(self, channels: int, kernel: int, dilation: int, scale: int, se_bottleneck: int):
        super().__init__()
        self.conv1 = _ConvBlock(channels, channels, 1)
        self.res2 = _Res2Conv(channels, kernel, dilation, scale)
        self.conv2 = _ConvBlock(channels, channels, 1)
        self.se = _SqueezeExcitation(channels, se_bottleneck)

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
        y = self.conv2(self.res2(self.conv1(x, mask), mask), mask)
        return self.se(y, mask) + x


@ENCODERS.register("ecapa", aliases=["ecapa_tdnn"])
class EcapaTdnnEncoder(nn.Module):
    """``forward(feats (B,T,D), lengths) -> ((B,T,mfa_dim), lengths)``.

    Config (all optional): channels 512 (the paper's C; 1024 for the large model),
    kernels [5, 3, 3, 3], dilations [1, 2, 3, 4] (the first entry is the input layer's),
    res2net_scale 8, se_bottleneck 128, mfa_dim 1536 (3 x C when C = 512, as the paper),
    dropout 0.0 (on the output frames).
    """

    def __init__(
        self,
        input_dim: int,
        channels: int = 512,
        kernels: Sequence[int] = (5, 3, 3, 3),
        dilations: Sequence[int] = (1, 2, 3, 4),
        res2net_scale: int = 8,
        se_bottleneck: int = 128,
        mfa_dim: Optional[int] = 1536,
        dropout: float = 0.0,
    ):
        super().__init__()
        kernels, dilations = list(kernels), list(dilations)
        if len(kernels) != len(dilations) or len(kernels) < 2:
            raise ValueError("ecapa: kernels and dilations need one entry for the input layer and one per block")
        self.input_layer = _ConvBlock(input_dim, channels, kernels[0], dilations[0])
        self.blocks = nn.ModuleList(
            SERes2Block(channels, k, d, res2net_scale, se_bottleneck) for k, d in zip(kernels[1:], dilations[1:])
        )
        mfa_dim = int(mfa_dim or channels * len(self.blocks))
        self.mfa = _ConvBlock(channels * len(self.blocks), mfa_dim, 1)
        self.dropout = nn.Dropout(dropout)
        self.output_dim = mfa_dim
        self.subsampling_factor = 1

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        return lengths

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor):
        lengths = lengths.to(feats.device)
        mask = valid_mask(lengths, feats.size(1))
        # contiguous (B, C, T): convolutions and batch norm on the transposed view are several
        # times slower on CPU
        x = feats.transpose(1, 2).contiguous()
        # equal-length crops: nothing to mask; a traced or exported graph always masks (its
        # inputs are any lengths, and the check is data-dependent)
        exporting = torch.jit.is_tracing() or torch.compiler.is_exporting()
        full = mask if exporting or not bool(mask.all()) else None
        x = self.input_layer(x, full)
        outs = []
        for block in self.blocks:
            x = block(x, full)
            outs.append(x)
        x = self.mfa(torch.cat(outs, dim=1), full)
        x = zero_padding(x, full, 2).transpose(1, 2)  # (B, T, mfa_dim), padded frames zero
        return self.dropout(x), lengths
