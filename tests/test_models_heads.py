"""Softmax and margin heads against hand-computed values (numpy, the papers' formulas)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from accent.models import HEADS, linear_margin

W = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])  # 3 classes, 2-dim embeddings
X = np.array([[3.0, 1.0], [0.5, -2.0], [1.0, 1.0]])  # the third points away from its class
Y = np.array([0, 2, 2])


def cosines(x=X, w=W):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)) @ (w / np.linalg.norm(w, axis=1, keepdims=True)).T


def cross_entropy(logits, y=Y):
    mx = logits.max(1, keepdims=True)
    lse = mx[:, 0] + np.log(np.exp(logits - mx).sum(1))
    return float(np.mean(lse - logits[np.arange(len(y)), y]))


def run(name, **kwargs):
    head = HEADS.build(name, 2, 3, **kwargs)
    with torch.no_grad():
        (head.linear.weight if name == "softmax" else head.weight).copy_(torch.tensor(W))
    x = torch.tensor(X, dtype=torch.float32, requires_grad=True)
    loss, logits = head(x, torch.tensor(Y))
    loss.backward()
    assert torch.isfinite(x.grad).all(), f"{name}: non-finite gradient"
    return head, loss.item(), logits.detach().numpy()


def with_target(cos, target):
    out = cos.copy()
    out[np.arange(len(Y)), Y] = target
    return out


def test_softmax():
    head = HEADS.build("softmax", 2, 3)
    with torch.no_grad():
        head.linear.weight.copy_(torch.tensor(W))
        head.linear.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
    loss, logits = head(torch.tensor(X, dtype=torch.float32), torch.tensor(Y))
    expected = X @ W.T + np.array([0.1, -0.2, 0.3])
    np.testing.assert_allclose(logits.detach().numpy(), expected, rtol=1e-5)
    assert loss.item() == pytest.approx(cross_entropy(expected), rel=1e-5)


def test_cosface():
    c = cosines()
    _, loss, logits = run("cosface", scale=30.0, margin=0.2)
    assert loss == pytest.approx(cross_entropy(30 * with_target(c, c[np.arange(3), Y] - 0.2)), rel=1e-4)
    np.testing.assert_allclose(logits, 30 * c, rtol=1e-5, atol=1e-5)  # margin-free scores


@pytest.mark.parametrize("easy,fallback", [(False, "mmm"), (False, "mm"), (True, "mmm")])
def test_arcface(easy, fallback):
    m, s = 0.5, 30.0
    c = cosines()
    ct = c[np.arange(3), Y]
    assert ct[2] < math.cos(math.pi - m)  # the third sample takes the fallback branch
    phi = np.cos(np.arccos(ct) + m)
    if easy:
        target = np.where(ct > 0, phi, ct)
    else:
        mm = 1 + math.cos(math.pi - m) if fallback == "mmm" else math.sin(math.pi - m) * m
        target = np.where(ct > math.cos(math.pi - m), phi, ct - mm)
    _, loss, logits = run("arcface", scale=s, margin=m, easy_margin=easy, fallback=fallback)
    assert loss == pytest.approx(cross_entropy(s * with_target(c, target)), rel=1e-4)
    np.testing.assert_allclose(logits, s * c, rtol=1e-5, atol=1e-5)


def psi(ct, m):
    theta = np.arccos(ct)
    k = np.floor(m * theta / np.pi)
    return (-1.0) ** k * np.cos(m * theta) - 2 * k


@pytest.mark.parametrize("m", [2.0, 4.0, 1.5])
def test_sphereface_no_annealing(m):
    c = cosines()
    ct = c[np.arange(3), Y]
    _, loss, _ = run("sphereface", scale=30.0, margin=m, anneal=False)
    # a non-integer m makes cos(mθ) infinitely steep at θ = π (the third sample): float32 rounding of
    # cos θ = -1 alone moves the loss by ~1e-2 there
    tol = 1e-4 * 30 if m == int(m) else 2e-2
    assert loss == pytest.approx(cross_entropy(30 * with_target(c, psi(ct, m))), abs=tol)


def test_sphereface_annealing_and_feature_norm():
    c = cosines()
    ct = c[np.arange(3), Y]
    head, loss1, _ = run("sphereface", scale=30.0, margin=2)
    lam = 1000.0  # iteration 0: max(5, 1000 * (1 + 0.12 * 0) ** -1)
    assert loss1 == pytest.approx(cross_entropy(30 * with_target(c, (lam * ct + psi(ct, 2)) / (1 + lam))), rel=1e-4)
    assert head.current_lambda() == pytest.approx(1000.0 / 1.12)
    # scale=None: the original |x|·cos θ scores
    head, loss, logits = run("sphereface", scale=None, margin=2, anneal=False)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    assert loss == pytest.approx(cross_entropy(norms * with_target(c, psi(ct, 2))), rel=1e-4)
    np.testing.assert_allclose(logits, norms * c, rtol=1e-5, atol=1e-5)


def test_circle():
    s, m = 30.0, 0.2
    c = cosines()
    onehot = np.eye(3)[Y].astype(bool)
    sp = c[onehot]
    sn = c[~onehot].reshape(3, 2)
    ap, an = np.maximum(1 + m - sp, 0), np.maximum(sn + m, 0)  # O_p = 1 + m, O_n = -m
    # Sun et al. (2020), eq. 6 with one positive: log(1 + sum_n exp(s a_n (s_n - D_n)) exp(-s a_p (s_p - D_p)))
    per = np.log1p(np.exp(s * an * (sn - m)).sum(1) * np.exp(-s * ap * (sp - (1 - m))))
    _, loss, logits = run("circle", scale=s, margin=m)
    assert loss == pytest.approx(float(per.mean()), rel=1e-4)
    np.testing.assert_allclose(logits, s * c, rtol=1e-5, atol=1e-5)


def test_defaults_and_margin_schedule():
    for name in ("cosface", "arcface", "circle"):
        head = HEADS.build(name, 4, 3)
        assert head.scale == 30.0 and head.margin == pytest.approx(0.2)
        head.set_margin(0.05)
        assert head.margin == 0.05
    arc = HEADS.build("arcface", 4, 3)
    arc.set_margin(0.3)
    assert arc.cos_m == pytest.approx(math.cos(0.3)) and arc.th == pytest.approx(math.cos(math.pi - 0.3))
    HEADS.build("softmax", 4, 3).set_margin(0.3)  # a no-op, callable blindly
    with pytest.raises(ValueError):
        HEADS.build("sphereface", 4, 3).set_margin(0.5)
    assert [linear_margin(e, 2, 6, 0.0, 0.2) for e in (0, 2, 4, 6, 9)] == pytest.approx([0, 0, 0.1, 0.2, 0.2])
