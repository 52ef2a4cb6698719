"""ONNX translations of accent's own ops, for ``torch.onnx.export(custom_translation_table=...)``."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
import torch
from onnxscript import opset18 as op


def _gates(w, hidden: int):
    """PyTorch orders GRU gates (reset, update, new), ONNX (update, reset, hidden).  A Gather with
    constant indices, which the exporter folds into the weights."""
    order = np.concatenate([np.arange(hidden, 2 * hidden), np.arange(hidden), np.arange(2 * hidden, 3 * hidden)])
    return op.Gather(w, op.Constant(value=ir.tensor(order.astype(np.int64))), axis=0)


def gru_forward(x, w_ih, w_hh, b_ih, b_hh):
    """``accent::gru_forward`` (B, T, C) -> (B, T, H) as one ONNX GRU (linear_before_reset=1 is
    PyTorch's formula: the reset gate scales W_hn h + b_hn)."""
    hidden = w_hh.shape[1]
    w = op.Unsqueeze(_gates(w_ih, hidden), [0])
    r = op.Unsqueeze(_gates(w_hh, hidden), [0])
    b = op.Unsqueeze(op.Concat(_gates(b_ih, hidden), _gates(b_hh, hidden), axis=0), [0])
    y, _ = op.GRU(op.Transpose(x, perm=[1, 0, 2]), w, r, b, hidden_size=hidden, linear_before_reset=1)
    return op.Transpose(op.Squeeze(y, [1]), perm=[1, 0, 2])  # (T, 1, B, H) -> (B, T, H)


TRANSLATIONS = {torch.ops.accent.gru_forward.default: gru_forward}
