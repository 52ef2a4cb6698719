"""Pooling layers: frames (B, T, C) + lengths (B,) -> one vector per utterance, padding ignored."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..registry import POOLINGS
from ..masking import PositionalEncoding, masked_mean, masked_mean_std, run_gru, run_transformer_layers, valid_mask


@POOLINGS.register("stats", aliases=["tstp"])
class StatsPooling(nn.Module):
    """Temporal statistics pooling (TSTP): [mean, std] over valid frames -> 2C.

    Config: unbiased (True, as WeSpeaker's torch.var), eps 1e-7 (added to the variance).
    """

    def __init__(self, input_dim: int, unbiased: bool = True, eps: float = 1e-7):
        super().__init__()
        self.unbiased, self.eps = unbiased, eps
        self.output_dim = 2 * input_dim

    def forward(self, frames: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mean, std = masked_mean_std(frames, valid_mask(lengths.to(frames.device), frames.size(1)), self.unbiased, self.eps)
        return torch.cat([mean, std], dim=-1)


@POOLINGS.register("avg", aliases=["tap", "mean"])
class AvgPooling(nn.Module):
    """Temporal average pooling (TAP): mean over valid frames -> C."""

    def __init__(self, input_dim: int):
        super().__init__()
        self.output_dim = input_dim

    def forward(self, frames: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return masked_mean(frames, valid_mask(lengths.to(frames.device), frames.size(1)))


@POOLINGS.register("asp", aliases=["astp"])
class AttentiveStatsPooling(nn.Module):
    """Attentive statistics pooling (Okabe et al., 2018; WeSpeaker's ASTP) -> 2C.

    Attention weights per frame and channel: softmax over valid frames of
    ``W2 tanh(W1 x + b1) + b2`` (bottleneck ``bottleneck_dim``); ``channel_wise: False`` uses one
    weight per frame as in Okabe et al.  ``global_context: True`` appends the utterance mean and
    std to each frame's attention input (ECAPA-TDNN's variant).
    """

    def __init__(self, input_dim: int, bottleneck_dim: int = 128, channel_wise: bool = True,
                 global_context: bool = False, eps: float = 1e-7):
        super().__init__()
        self.global_context = global_context
        self.eps = eps
        in_dim = 3 * input_dim if global_context else input_dim
        self.linear1 = nn.Linear(in_dim, bottleneck_dim)
        self.linear2 = nn.Linear(bottleneck_dim, input_dim if channel_wise else 1)
        self.output_dim = 2 * input_dim

    def forward(self, frames: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mask = valid_mask(lengths.to(frames.device), frames.size(1))
        x = frames
        if self.global_context:
            mean, std = masked_mean_std(frames, mask, unbiased=False, eps=self.eps)
            t = frames.size(1)
            x = torch.cat([frames, mean.unsqueeze(1).expand(-1, t, -1), std.unsqueeze(1).expand(-1, t, -1)], -1)
        scores = self.linear2(torch.tanh(self.linear1(x)))  # (B, T, C or 1)
        scores = scores.masked_fill(~mask.unsqueeze(-1), float("-inf"))
        w = torch.softmax(scores, dim=1)
        mean = (w * frames).sum(1)
        var = (w * frames * frames).sum(1) - mean * mean
        std = torch.sqrt(var.clamp_min(self.eps))
        return torch.cat([mean, std], dim=-1)


@POOLINGS.register("bigru")
class BiGRUPooling(nn.Module):
    """BiGRU over the valid frames (``run_gru``); the final states of both directions -> 2H.

    Config: hidden_dim 256, num_layers 1, dropout 0.0 (between layers).
    """

    def __init__(self, input_dim: int, hidden_dim: int = 256, num_layers: int = 1, dropout: float = 0.0):
        super().__init__()
        self.gru = nn.GRU(input_dim, hidden_dim, num_layers=num_layers, batch_first=True,
                          bidirectional=True, dropout=dropout if num_layers > 1 else 0.0)
        self.output_dim = 2 * hidden_dim

    def forward(self, frames: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return run_gru(self.gru, frames, lengths)[1]


class _VLAD(nn.Module):
    """NetVLAD (Arandjelović et al., 2016) with optional ghost clusters (Zhong et al., 2018).

    Soft assignment a_k(x) = softmax_k(w_k.x + b_k) over K + G clusters; residuals
    sum_t a_k(x_t) (x_t - c_k) over valid frames for the K real clusters only; intra-normalised
    (L2 per cluster), flattened, L2-normalised -> K * C.
    """

    def __init__(self, input_dim: int, num_clusters: int, ghost_clusters: int):
        super().__init__()
        self.num_clusters, self.ghost_clusters = num_clusters, ghost_clusters
        self.assign = nn.Linear(input_dim, num_clusters + ghost_clusters)
        self.centroids = nn.Parameter(torch.randn(num_clusters, input_dim) * 0.1)
        self.output_dim = num_clusters * input_dim

    def forward(self, frames: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mask = valid_mask(lengths.to(frames.device), frames.size(1)).unsqueeze(-1).to(frames.dtype)
        a = torch.softmax(self.assign(frames), dim=-1)[..., : self.num_clusters] * mask  # (B, T, K)
        vlad = torch.einsum("btk,btc->bkc", a, frames) - a.sum(1).unsqueeze(-1) * self.centroids.unsqueeze(0)
        vlad = F.normalize(vlad, dim=-1)  # intra-normalisation
        return F.normalize(vlad.flatten(1), dim=-1)


@POOLINGS.register("netvlad")
class NetVLADPooling(_VLAD):
    """NetVLAD pooling. Config: num_clusters 8."""

    def __init__(self, input_dim: int, num_clusters: int = 8):
        super().__init__(input_dim, num_clusters, 0)


@POOLINGS.register("ghostvlad")
class GhostVLADPooling(_VLAD):
    """GhostVLAD pooling. Config: num_clusters 8, ghost_clusters 2."""

    def __init__(self, input_dim: int, num_clusters: int = 8, ghost_clusters: int = 2):
        super().__init__(input_dim, num_clusters, ghost_clusters)


@POOLINGS.register("transformer_aggregator")
class TransformerAggregator(nn.Module):
    """Transformer aggregator of the hybrid AR system -> 2 * d_model.

    Conv1d k1 bottleneck (input_dim -> d_model 256) -> num_layers 3 self-attention layers
    (num_heads 4, ff_dim 1024, dropout 0.1, key padding mask) -> statistics pooling (mean, std).
    Config also: positional_encoding (False: the Jasper frames already carry local order through
    their receptive field of several seconds; True adds ESPnet-style sinusoidal encodings), norm_first (False).
    """

    def __init__(self, input_dim: int, d_model: int = 256, num_layers: int = 3, num_heads: int = 4,
                 ff_dim: int = 1024, dropout: float = 0.1, positional_encoding: bool = False,
                 norm_first: bool = False):
        super().__init__()
        self.bottleneck = nn.Conv1d(input_dim, d_model, 1)
        self.pos = PositionalEncoding(d_model, dropout, scale=False) if positional_encoding else None
        self.layers = nn.ModuleList([
            nn.TransformerEncoderLayer(d_model, num_heads, ff_dim, dropout, batch_first=True, norm_first=norm_first)
            for _ in range(num_layers)
        ])
        self.stats = StatsPooling(d_model)
        self.output_dim = self.stats.output_dim

    def forward(self, frames: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = self.bottleneck(frames.transpose(1, 2)).transpose(1, 2)
        if self.pos is not None:
            x = self.pos(x)
        x = run_transformer_layers(self.layers, x, lengths)
        return self.stats(x, lengths)
