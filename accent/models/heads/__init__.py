"""Classification heads with their losses (WeSpeaker's "projection" table): registered in ``HEADS``.

Each takes ``(embed_dim, num_classes, scale=30.0, margin=...)``; ``forward(embeddings, labels)``
returns ``(loss, logits)`` and ``logits(embeddings)`` gives the margin-free scores for inference.
Margin heads have ``set_margin(m)`` for a margin schedule (see ``linear_margin``).

Names: softmax, sphereface (asoftmax), cosface (amsoftmax), arcface (aamsoftmax), circle.
"""

from .margin import (
    ArcFaceHead,
    CircleHead,
    CosFaceHead,
    SoftmaxHead,
    SphereFaceHead,
    linear_margin,
)

__all__ = ["SoftmaxHead", "SphereFaceHead", "CosFaceHead", "ArcFaceHead", "CircleHead", "linear_margin"]
