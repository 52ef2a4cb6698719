"""Speaker-adversarial training (domain-adversarial, Ganin & Lempitsky 2015) of the accent embedding.

With few speakers per accent a model can learn *who* speaks instead of *how*: every training
speaker has one accent, so speaker identity predicts the label.  A speaker classifier on the
accent embedding is trained to recognise the training speakers while a gradient-reversal layer
(identity forward, gradient x -``scale`` backward) makes the embedding lose what it could use:

    embedding -> GRL -> Linear -> ReLU -> Linear -> speaker logits -> cross-entropy (x weight)

The adversary takes part in training only; inference ignores it.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class _ReverseGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return -ctx.scale * grad, None


def reverse_gradient(x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Identity in the forward pass; the gradient times ``-scale`` in the backward pass."""
    return _ReverseGradient.apply(x, float(scale))


class SpeakerAdversary(nn.Module):
    """Speaker classifier behind a gradient-reversal layer; ``forward(embedding, speakers)`` -> loss.

    Config (``model.speaker_adversary``): ``weight`` of its loss (default 0.1), ``hidden`` units
    (256), ``scale`` of the reversed gradient (1.0); ``num_speakers`` is filled in by the trainer
    from the training set's ``utt2spk``.
    """

    def __init__(self, embed_dim: int, num_speakers: int, hidden: int = 256, scale: float = 1.0,
                 weight: float = 0.1):
        super().__init__()
        if num_speakers < 2:
            raise ValueError(f"speaker_adversary: needs >= 2 training speakers, got {num_speakers}")
        self.scale, self.weight = float(scale), float(weight)
        self.net = nn.Sequential(nn.Linear(embed_dim, hidden), nn.ReLU(), nn.Linear(hidden, num_speakers))

    def forward(self, embedding: torch.Tensor, speakers: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(self.net(reverse_gradient(embedding, self.scale)), speakers)
