"""The inference graph of an accent model: raw FBank features in, posteriors (and embeddings) out.

``InferenceGraph`` holds what inference needs beyond the model's weights: the feature
normalisation (global CMVN statistics as buffers, or per-utterance CMVN over the valid frames)
and the softmax over the margin-free logits.  The same module runs eagerly (the PyTorch backend
of :class:`accent.AccentRecognizer`), is traced to TorchScript and exported to ONNX, so the three
backends compute the same function.  Everything else inference needs (labels, FBank options, the
shortest input the encoder can score) is plain JSON metadata that travels inside the exported file.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple, Union

import torch
import torch.nn as nn

from accent.dataset import FeatureNormalizer
from accent.dataset.waveform import takes_waveform
from accent.features.fbank import FbankConfig
from accent.models import AccentModel
from accent.models.utils import valid_mask
from accent.training.model_io import load_model

METADATA_KEY = "accent"  # ONNX metadata_props key / TorchScript extra file "accent.json"
METADATA_FORMAT = 1
MIN_SECONDS = 0.25  # shorter input carries too little accent evidence to be worth a guess
NO_FRONTEND_NOTE = ("the checkpoint does not record its FBank options (made before they were stored); "
                    "assuming the recipe defaults FbankConfig() = egs/aesrc/conf/fbank.yaml")


class InferenceGraph(nn.Module):
    """``forward(feats (B,T,D) raw FBank, lengths (B,)) -> (posteriors (B,C), embedding (B,E))``."""

    def __init__(self, model: AccentModel, normalizer: FeatureNormalizer):
        super().__init__()
        if not isinstance(model, AccentModel):
            raise ValueError(f"an accent model is needed, got {type(model).__name__} (an ASR checkpoint?)")
        self.model = model.eval()
        self.cmvn = normalizer.mode
        self.norm_vars = normalizer.norm_vars
        glob = normalizer.mode == "global"
        self.register_buffer("mean", torch.tensor(normalizer.mean) if glob else torch.zeros(0))
        self.register_buffer("std", torch.tensor(normalizer.std) if glob else torch.ones(0))

    def normalize(self, feats: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """As ``FeatureNormalizer`` does per utterance, with padded frames left out and zeroed."""
        m = mask.unsqueeze(-1).to(feats.dtype)
        if self.cmvn == "global":
            mean, std = self.mean, self.std
        elif self.cmvn == "utterance":
            n = m.sum(1, keepdim=True).clamp_min(1.0)
            mean = (feats * m).sum(1, keepdim=True) / n
            std = torch.sqrt(((((feats - mean) ** 2) * m).sum(1, keepdim=True) / n).clamp_min(1e-10))
        else:
            return feats * m
        out = feats - mean
        if self.norm_vars:
            out = out / std
        return out * m

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        x = self.normalize(feats, valid_mask(lengths, feats.size(1)))
        embedding = self.model.embed(x, lengths)
        return torch.softmax(self.model.head.logits(embedding), dim=-1), embedding


def encoder_min_frames(model: AccentModel, floor_frames: int = 1) -> int:
    """The fewest input frames for which the encoder gives at least two output frames (one frame
    has no statistics to pool), and at least ``floor_frames``."""
    t = 1
    while t < 10_000 and int(model.encoder.output_lengths(torch.tensor([t]))[0]) < 2:
        t += 1
    return max(t, floor_frames)


def frontend_of(ckpt: Mapping[str, Any]) -> Tuple[FbankConfig, Optional[str]]:
    """The FBank options the model was trained on, and a note when they had to be assumed."""
    if ckpt.get("frontend"):
        return FbankConfig.from_dict(ckpt["frontend"]), None
    return FbankConfig(), NO_FRONTEND_NOTE


def graph_from_checkpoint(path: Union[str, Path], device: Union[str, torch.device] = "cpu",
                          min_seconds: float = MIN_SECONDS) -> Tuple[InferenceGraph, Dict[str, Any]]:
    """The inference graph of an accent checkpoint and its metadata (see :func:`metadata`)."""
    model, ckpt = load_model(path, device)
    if ckpt.get("task", ckpt["config"].get("task")) != "accent" or not ckpt.get("labels"):
        raise ValueError(f"{path}: not an accent model checkpoint (task {ckpt['config'].get('task')!r})")
    if not ckpt.get("normalizer"):
        raise ValueError(f"{path}: the checkpoint holds no feature normalizer")
    graph = InferenceGraph(model, FeatureNormalizer.from_dict(ckpt["normalizer"])).to(device).eval()
    return graph, metadata(graph, ckpt, str(path), min_seconds)


def metadata(graph: InferenceGraph, ckpt: Mapping[str, Any], source: str, min_seconds: float = MIN_SECONDS
             ) -> Dict[str, Any]:
    """What inference needs besides the graph; JSON-serialisable."""
    frontend, note = frontend_of(ckpt)
    waveform = takes_waveform(ckpt["config"])  # input frames are samples (the ssl encoder)
    floor = math.ceil(min_seconds * (frontend.sample_rate if waveform else 1000.0 / frontend.frame_shift_ms))
    model_cfg = ckpt["config"]["model"]
    return {
        "format": METADATA_FORMAT,
        "labels": list(ckpt["labels"]),
        "frontend": frontend.to_dict(),
        "frontend_note": note,
        "input": "waveform" if waveform else "fbank",  # waveform: feats are (B, S, 1) samples
        "cmvn": graph.cmvn,
        "input_dim": int(ckpt["input_dim"]),
        "embed_dim": int(graph.model.embed_dim),
        "min_frames": encoder_min_frames(graph.model, floor),
        "encoder": model_cfg["encoder"].get("name"),
        "source": source,
        "epoch": ckpt.get("epoch"),
    }
