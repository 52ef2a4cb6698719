"""Utterance-level poolings (WeSpeaker's "pooling" table): registered in ``POOLINGS``.

Each takes ``(input_dim, **config)``, maps ``(frames (B,T,C), lengths (B,))`` to ``(B, output_dim)``
using only the valid frames, and has ``output_dim``.

Names: stats (alias tstp), avg (tap), asp (astp), bigru, netvlad, ghostvlad, transformer_aggregator.
"""

from .pooling import (
    AttentiveStatsPooling,
    AvgPooling,
    BiGRUPooling,
    GhostVLADPooling,
    NetVLADPooling,
    StatsPooling,
    TransformerAggregator,
)

__all__ = [
    "StatsPooling", "AvgPooling", "AttentiveStatsPooling", "BiGRUPooling",
    "NetVLADPooling", "GhostVLADPooling", "TransformerAggregator",
]
