"""Softmax and margin-based softmax heads (the losses compared by SAR-Net).

All margin heads work on cosines ``cos θ_j = <x/|x|, w_j/|w_j|>`` between the embedding and one
weight vector per class, and use the scale ``s`` (default 30) and margin ``m`` (default 0.2, as
SAR-Net's best).  ``forward`` returns the loss (cross-entropy on the margin-modified logits, mean
over the batch) and the *margin-free* logits ``s·cos θ`` (what ``logits()`` gives at inference),
so training accuracy is measured on the same scores as at test time.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..registry import HEADS


def linear_margin(step: int, start_step: int, end_step: int, initial: float = 0.0, final: float = 0.2) -> float:
    """A margin ramp (WeSpeaker's "linear" margin scheduler): ``initial`` until ``start_step``,
    linear to ``final`` at ``end_step``, ``final`` after.  Use with ``head.set_margin(...)``."""
    if step <= start_step:
        return initial
    if step >= end_step or end_step <= start_step:
        return final
    return initial + (final - initial) * (step - start_step) / (end_step - start_step)


def _check_smoothing(value: float) -> float:
    if not 0.0 <= float(value) < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {value}")
    return float(value)


class _CosineHead(nn.Module):
    """Normalised class weights; ``cosine(x)`` (B, C) clamped to [-1, 1]."""

    def __init__(self, embed_dim: int, num_classes: int, scale: float, margin: float, label_smoothing: float = 0.0):
        super().__init__()
        self.embed_dim, self.num_classes = embed_dim, num_classes
        self.label_smoothing = _check_smoothing(label_smoothing)
        self.scale = float(scale) if scale is not None else None
        self.weight = nn.Parameter(torch.empty(num_classes, embed_dim))
        nn.init.xavier_uniform_(self.weight)
        self.set_margin(margin)

    def set_margin(self, margin: float) -> None:
        self.margin = float(margin)

    def cosine(self, embeddings: torch.Tensor) -> torch.Tensor:
        return F.linear(F.normalize(embeddings, dim=-1), F.normalize(self.weight, dim=-1)).clamp(-1.0, 1.0)

    def _ce(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, labels, label_smoothing=self.label_smoothing)

    def logits(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Margin-free scores ``s·cos θ`` for inference."""
        return self.scale * self.cosine(embeddings)

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_classes={self.num_classes}, scale={self.scale}, margin={self.margin}"


@HEADS.register("softmax")
class SoftmaxHead(nn.Module):
    """Plain Linear + cross-entropy (scale and margin are accepted and ignored)."""

    def __init__(self, embed_dim: int, num_classes: int, scale: float = 30.0, margin: float = 0.0, bias: bool = True,
                 label_smoothing: float = 0.0):
        super().__init__()
        self.linear = nn.Linear(embed_dim, num_classes, bias=bias)
        self.label_smoothing = _check_smoothing(label_smoothing)
        self.margin = 0.0

    def set_margin(self, margin: float) -> None:  # no margin: a no-op, so a trainer can call it blindly
        pass

    def logits(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.linear(embeddings)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        logits = self.logits(embeddings)
        return F.cross_entropy(logits, labels, label_smoothing=self.label_smoothing), logits


@HEADS.register("cosface", aliases=["amsoftmax", "am_softmax"])
class CosFaceHead(_CosineHead):
    """AM-softmax / CosFace: target logit ``s·(cos θ_y − m)``, others ``s·cos θ_j``."""

    def __init__(self, embed_dim: int, num_classes: int, scale: float = 30.0, margin: float = 0.2,
                 label_smoothing: float = 0.0):
        super().__init__(embed_dim, num_classes, scale, margin, label_smoothing)

    def forward(self, embeddings, labels):
        cos = self.cosine(embeddings)
        one_hot = F.one_hot(labels, self.num_classes).to(cos.dtype)
        loss = self._ce(self.scale * (cos - self.margin * one_hot), labels)
        return loss, self.scale * cos


@HEADS.register("arcface", aliases=["aamsoftmax", "aam_softmax"])
class ArcFaceHead(_CosineHead):
    """AAM-softmax / ArcFace: target logit ``s·cos(θ_y + m)``.

    As the reference implementations, where θ_y + m would pass π the target uses a monotone
    substitute: ``easy_margin=True`` keeps ``cos θ`` when ``cos θ <= 0`` (insightface's easy
    margin); otherwise, when ``cos θ <= th = cos(π − m)``, ``cos θ − mm`` with
    ``mm = 1 + cos(π − m)`` (``fallback="mmm"``, WeSpeaker's choice: continuous at θ = π − m) or
    ``mm = sin(π − m)·m`` (``fallback="mm"``, the original insightface/ArcFace code).
    """

    def __init__(self, embed_dim: int, num_classes: int, scale: float = 30.0, margin: float = 0.2,
                 easy_margin: bool = False, fallback: str = "mmm", label_smoothing: float = 0.0):
        if fallback not in ("mmm", "mm"):
            raise ValueError(f"arcface: fallback must be 'mmm' or 'mm', got {fallback!r}")
        self.easy_margin, self.fallback = easy_margin, fallback
        super().__init__(embed_dim, num_classes, scale, margin, label_smoothing)

    def set_margin(self, margin: float) -> None:
        self.margin = float(margin)
        self.cos_m, self.sin_m = math.cos(self.margin), math.sin(self.margin)
        self.th = math.cos(math.pi - self.margin)
        if self.fallback == "mmm":
            self.mm = 1.0 + math.cos(math.pi - self.margin)
        else:
            self.mm = math.sin(math.pi - self.margin) * self.margin

    def target_logit(self, cos: torch.Tensor) -> torch.Tensor:
        """cos(θ + m) with the easy-margin / th-mm substitute (unscaled)."""
        # the floor keeps the gradient finite at |cos θ| = 1 (sqrt'(0) = inf would give NaN)
        sin = torch.sqrt((1.0 - cos * cos).clamp(1e-12, 1.0))
        phi = cos * self.cos_m - sin * self.sin_m
        if self.easy_margin:
            return torch.where(cos > 0, phi, cos)
        return torch.where(cos > self.th, phi, cos - self.mm)

    def forward(self, embeddings, labels):
        cos = self.cosine(embeddings)
        one_hot = F.one_hot(labels, self.num_classes).to(torch.bool)
        out = torch.where(one_hot, self.target_logit(cos), cos)
        return self._ce(self.scale * out, labels), self.scale * cos


@HEADS.register("sphereface", aliases=["asoftmax", "a_softmax"])
class SphereFaceHead(_CosineHead):
    """A-softmax / SphereFace: multiplicative angular margin on the target,
    ``ψ(θ) = (−1)^k cos(mθ) − 2k`` with ``k = floor(mθ/π)`` (monotone on [0, π]).

    ``margin`` is the multiplicative m (default 2, as WeSpeaker's SphereProduct; 1 = no margin;
    non-integers work, which lets a schedule ramp it from 1).  Scores are ``s·cos θ`` with a fixed
    ``scale`` (normalised features), or ``|x|·cos θ`` as in the original paper when ``scale=None``.

    The usual annealing (``anneal=True``): the target logit is ``(λ cos θ + ψ(θ)) / (1 + λ)`` with
    ``λ = max(lambda_min, lambda_base·(1 + gamma·it)^−power)`` and ``it`` the number of training
    forward passes so far (SphereFace's defaults 1000, 0.12, 1, 5).  ``anneal=False`` uses ψ(θ).
    """

    def __init__(self, embed_dim: int, num_classes: int, scale: Optional[float] = 30.0, margin: float = 2.0,
                 anneal: bool = True, lambda_base: float = 1000.0, lambda_min: float = 5.0,
                 gamma: float = 0.12, power: float = 1.0, label_smoothing: float = 0.0):
        super().__init__(embed_dim, num_classes, scale, margin, label_smoothing)
        self.anneal = anneal
        self.lambda_base, self.lambda_min, self.gamma, self.power = lambda_base, lambda_min, gamma, power
        self.register_buffer("iteration", torch.zeros((), dtype=torch.long))

    def set_margin(self, margin: float) -> None:
        if margin < 1.0:
            raise ValueError(f"sphereface: the multiplicative margin must be >= 1, got {margin}")
        self.margin = float(margin)

    def current_lambda(self) -> float:
        if not self.anneal:
            return 0.0
        return max(self.lambda_min, self.lambda_base * (1.0 + self.gamma * float(self.iteration)) ** (-self.power))

    def psi(self, cos: torch.Tensor) -> torch.Tensor:
        m = self.margin
        if m == int(m):  # Chebyshev polynomial: exact gradient everywhere, as the reference code
            cos_m_theta = _chebyshev(cos, int(m))
        else:
            # exact value; gradient through a clamped acos (d cos(mθ)/d cos θ is infinite at θ = π)
            exact = torch.cos(m * torch.acos(cos.detach()))
            soft = torch.cos(m * torch.acos(cos.clamp(-1.0 + 1e-6, 1.0 - 1e-6)))
            cos_m_theta = exact + (soft - soft.detach())
        theta = torch.acos(cos.detach())
        k = torch.floor(m * theta / math.pi)
        return torch.where(torch.remainder(k, 2) == 0, cos_m_theta, -cos_m_theta) - 2.0 * k

    def _scale(self, embeddings: torch.Tensor) -> torch.Tensor:
        if self.scale is None:
            return embeddings.norm(dim=-1, keepdim=True)
        return torch.full_like(embeddings[:, :1], self.scale)

    def logits(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self._scale(embeddings) * self.cosine(embeddings)

    def forward(self, embeddings, labels):
        cos = self.cosine(embeddings)
        lamb = self.current_lambda()
        if self.training:
            self.iteration += 1
        target = (lamb * cos + self.psi(cos)) / (1.0 + lamb)
        one_hot = F.one_hot(labels, self.num_classes).to(torch.bool)
        s = self._scale(embeddings)
        out = torch.where(one_hot, target, cos)
        return self._ce(s * out, labels), s * cos


def _chebyshev(x: torch.Tensor, m: int) -> torch.Tensor:
    """cos(m·θ) as the Chebyshev polynomial T_m(cos θ)."""
    if m == 0:
        return torch.ones_like(x)
    t_prev, t = torch.ones_like(x), x
    for _ in range(m - 1):
        t_prev, t = t, 2 * x * t - t_prev
    return t


@HEADS.register("circle")
class CircleHead(_CosineHead):
    """Circle loss, class-level (Sun et al., 2020), as SAR-Net uses it (s = 30, m = 0.2).

    With s_p = cos θ_y and s_n = cos θ_j (j ≠ y): optima O_p = 1 + m, O_n = −m; margins
    Δ_p = 1 − m, Δ_n = m; self-paced weights α_p = [O_p − s_p]_+, α_n = [s_n − O_n]_+ (detached,
    as in the authors' code).  Logits ``s·α_p (s_p − Δ_p)`` for the target and ``s·α_n (s_n − Δ_n)``
    for the others; the loss ``log(1 + Σ_n exp(·) Σ_p exp(·))`` is then the cross-entropy on them.
    """

    def __init__(self, embed_dim: int, num_classes: int, scale: float = 30.0, margin: float = 0.2,
                 label_smoothing: float = 0.0):
        super().__init__(embed_dim, num_classes, scale, margin, label_smoothing)

    def forward(self, embeddings, labels):
        cos = self.cosine(embeddings)
        m = self.margin
        alpha_p = (1.0 + m - cos.detach()).clamp_min(0.0)
        alpha_n = (cos.detach() + m).clamp_min(0.0)
        logit_p = alpha_p * (cos - (1.0 - m))
        logit_n = alpha_n * (cos - m)
        one_hot = F.one_hot(labels, self.num_classes).to(torch.bool)
        out = torch.where(one_hot, logit_p, logit_n)
        return self._ce(self.scale * out, labels), self.scale * cos
