"""Transformer encoder of the AESRC2020 baseline (ESPnet's Conv2dSubsampling + Transformer encoder).

    (B, T, D) -> (B, 1, T, D) -> Conv2d(1, d, 3, stride 2) -> ReLU -> Conv2d(d, d, 3, stride 2) -> ReLU
    -> Linear(d * D'', d) -> x * sqrt(d) + sinusoidal PE -> num_layers x pre-LN encoder layers
    (4 heads, feed-forward 2048, key padding mask) -> LayerNorm -> (B, T', d)

T' = ((T - 1) // 2 - 1) // 2 as in ESPnet (clamped to at least 1 so that an utterance shorter than
7 frames does not leave a fully masked attention row).  The unpadded 3x3 convolutions only read
valid frames for valid outputs, and attention masks padded keys, so a padded batch gives the same
valid outputs as each utterance alone (eval mode).  Padded output frames are zero.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..registry import ENCODERS
from ..masking import PositionalEncoding, run_transformer_layers, valid_mask, zero_padding


class Conv2dSubsampling(nn.Module):
    """ESPnet's Conv2dSubsampling (x4 in time and frequency), positional encoding included."""

    def __init__(self, input_dim: int, d_model: int, dropout: float = 0.1):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, d_model, 3, 2), nn.ReLU(),
            nn.Conv2d(d_model, d_model, 3, 2), nn.ReLU(),
        )
        freq = ((input_dim - 1) // 2 - 1) // 2
        if freq < 1:
            raise ValueError(f"transformer: input_dim {input_dim} is too small for Conv2dSubsampling (needs >= 7)")
        self.out = nn.Linear(d_model * freq, d_model)
        self.pos = PositionalEncoding(d_model, dropout)

    @staticmethod
    def output_lengths(lengths: torch.Tensor) -> torch.Tensor:
        return (torch.div(torch.div(lengths - 1, 2, rounding_mode="floor") - 1, 2, rounding_mode="floor")).clamp_min(1)

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor):
        if feats.size(1) < 7:  # pad so that the convolutions give at least one frame
            feats = nn.functional.pad(feats, (0, 0, 0, 7 - feats.size(1)))
        x = self.conv(feats.unsqueeze(1))  # (B, d, T', D'')
        b, c, t, f = x.shape
        x = self.out(x.transpose(1, 2).reshape(b, t, c * f))
        return self.pos(x), self.output_lengths(lengths)


@ENCODERS.register("transformer")
class TransformerEncoder(nn.Module):
    """AESRC2020 baseline encoder; ``forward(feats (B,T,D), lengths) -> ((B,T',d_model), lengths')``.

    Config: d_model 256, num_layers 12 (the baseline uses 3, 6 or 12), num_heads 4,
    ff_dim 2048, dropout 0.1, attention_dropout (= dropout).
    """

    subsampling_factor = 4

    def __init__(
        self,
        input_dim: int,
        d_model: int = 256,
        num_layers: int = 12,
        num_heads: int = 4,
        ff_dim: int = 2048,
        dropout: float = 0.1,
        attention_dropout: float = None,
    ):
        super().__init__()
        self.input_dim = input_dim
        self.output_dim = d_model
        self.embed = Conv2dSubsampling(input_dim, d_model, dropout)
        layer_kwargs = dict(
            d_model=d_model, nhead=num_heads, dim_feedforward=ff_dim,
            dropout=dropout if attention_dropout is None else attention_dropout,
            activation="relu", batch_first=True, norm_first=True,
        )
        self.layers = nn.ModuleList([nn.TransformerEncoderLayer(**layer_kwargs) for _ in range(num_layers)])
        self.final_norm = nn.LayerNorm(d_model)

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        return Conv2dSubsampling.output_lengths(lengths)

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor):
        x, out_lengths = self.embed(feats, lengths.to(feats.device))
        x = run_transformer_layers(self.layers, x, out_lengths)
        x = self.final_norm(x)
        return zero_padding(x, valid_mask(out_lengths, x.size(1)), 1), out_lengths
