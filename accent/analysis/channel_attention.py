"""Channel-attention analysis of the concat + channel-attention hybrid (hybrid paper Fig. 7).

The ``concat_ca`` fusion scales the 2·d concatenated channels, the frozen reference AM's first
(:class:`accent.models.fusion.ConcatChannelAttentionFusion`), by per-utterance sigmoid weights.
Over a data set: the mean weight of every channel, and the ratio of the summed weights on the
reference half to those on the trainable half (> 1: the model leans on the reference AM).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Union

import numpy as np
import torch

from accent.evaluation.predictions import model_batches
from accent.evaluation.plots import plt, save_figure
from accent.models.fusion import ConcatChannelAttentionFusion
from accent.models.build import load_model


@torch.no_grad()
def attention_weights(checkpoint: Union[str, os.PathLike], data_dir: Union[str, os.PathLike],
                      device: str = "cpu", max_frames: Optional[int] = None) -> Dict[str, Any]:
    """{"weights": (N, ref_dim + dim) array, "utts": [...], "ref_dim": int, "dim": int}."""
    model, ckpt = load_model(checkpoint, device)
    fusion = getattr(model, "fusion", None)
    if not isinstance(fusion, ConcatChannelAttentionFusion):
        raise ValueError(f"{checkpoint}: its fusion is {type(fusion).__name__ if fusion is not None else 'none'}, "
                         "the analysis needs a concat_ca hybrid")
    utts, weights = [], []
    for batch in model_batches(ckpt, data_dir, device, max_frames=max_frames):
        model.embed(batch["feats"], batch["lengths"])
        weights.append(model.channel_attention.float().cpu().numpy())
        utts += batch["utts"]
    return {"weights": np.concatenate(weights), "utts": utts, "ref_dim": fusion.ref_dim, "dim": fusion.dim}


def summarize(weights: np.ndarray, ref_dim: int) -> Dict[str, Any]:
    """Summed weights on each half over all utterances, their ratio (reference / trainable), the
    per-utterance ratios' mean and std, and the mean weight of every channel."""
    ref, trainable = weights[:, :ref_dim], weights[:, ref_dim:]
    per_utt = ref.sum(1) / trainable.sum(1)
    return {
        "utts": int(weights.shape[0]),
        "ref_dim": int(ref_dim),
        "dim": int(trainable.shape[1]),
        "reference_sum": float(ref.sum()),
        "trainable_sum": float(trainable.sum()),
        "ratio": float(ref.sum() / trainable.sum()),
        "utterance_ratio_mean": float(per_utt.mean()),
        "utterance_ratio_std": float(per_utt.std()),
        "reference_mean_weight": float(ref.mean()),
        "trainable_mean_weight": float(trainable.mean()),
        "mean_weights": [float(x) for x in weights.mean(0)],
    }


def summary_table(summary: Mapping[str, Any], checkpoint: str, data: str) -> str:
    s = summary
    return (
        "| half | channels | mean weight | summed weight (all utterances) |\n|---|---:|---:|---:|\n"
        f"| reference (frozen AM) | {s['ref_dim']} | {s['reference_mean_weight']:.4f} | {s['reference_sum']:.1f} |\n"
        f"| trainable AM | {s['dim']} | {s['trainable_mean_weight']:.4f} | {s['trainable_sum']:.1f} |\n\n"
        f"Ratio reference / trainable: **{s['ratio']:.3f}** (per utterance {s['utterance_ratio_mean']:.3f} "
        f"± {s['utterance_ratio_std']:.3f}) over {s['utts']} utterances of {data}; model {checkpoint}.\n"
    )


def plot_weights(summary: Mapping[str, Any], path: Union[str, os.PathLike]) -> Path:
    """Bar plot of the 2·d mean channel weights, reference half and trainable half in two colours."""
    w = np.asarray(summary["mean_weights"])
    ref_dim = summary["ref_dim"]
    x = np.arange(len(w))
    fig, ax = plt.subplots(figsize=(10, 3.5))
    ax.bar(x[:ref_dim], w[:ref_dim], width=1.0, color="tab:orange", label="reference (frozen AM)")
    ax.bar(x[ref_dim:], w[ref_dim:], width=1.0, color="tab:blue", label="trainable AM")
    ax.set_xlim(-0.5, len(w) - 0.5)
    ax.set_ylim(0.0, 1.2)  # sigmoid weights; headroom for the legend
    ax.set_xlabel("channel")
    ax.set_ylabel("mean attention weight")
    ax.set_title(f"Channel attention: reference / trainable = {summary['ratio']:.3f}")
    ax.legend(loc="upper center", ncol=2)
    fig.tight_layout()
    return save_figure(fig, path)
