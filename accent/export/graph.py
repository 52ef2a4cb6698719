"""The inference graph of an accent model: raw FBank features in, posteriors (and embeddings) out.

``InferenceGraph`` is the model's own inference function (:meth:`AccentModel.predict`: its
feature normaliser, encoders, pooling and head) with the softmax over the margin-free logits.
Stage 6 scoring, the analyses and the PyTorch backend of :class:`accent.AccentRecognizer` run it
eagerly; stage 7 traces it to TorchScript and exports it to ONNX, so every path computes the
same function.  Everything else inference needs (labels, FBank options, the
shortest input the encoder can score) is plain JSON metadata that travels inside the exported file.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict, Mapping, Tuple, Union

import torch
import torch.nn as nn

from accent.dataset.waveform import takes_waveform
from accent.features.frontend import checkpoint_frontend
from accent.models import AccentModel
from accent.models.build import load_model
from accent.models import NORMALIZERS

METADATA_FORMAT = 1
MIN_SECONDS = 0.25  # shorter input carries too little accent evidence to be worth a guess

class InferenceGraph(nn.Module):
    """``forward(feats (B,T,D) raw FBank, lengths (B,)) -> (posteriors (B,C), embedding (B,E))``."""

    def __init__(self, model: AccentModel):
        super().__init__()
        if not isinstance(model, AccentModel):
            raise ValueError(f"an accent model is needed, got {type(model).__name__} (an ASR checkpoint?)")
        self.model = model.eval()

    @property
    def cmvn(self) -> str:
        return NORMALIZERS.name_of(self.model.normalize)

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        logits, embedding = self.model.predict(feats, lengths)
        return torch.softmax(logits, dim=-1), embedding


def encoder_min_frames(model: AccentModel, floor_frames: int = 1) -> int:
    """The fewest input frames for which the encoder gives at least two output frames (one frame
    has no statistics to pool), and at least ``floor_frames``."""
    t = 1
    while t < 10_000 and int(model.encoder.output_lengths(torch.tensor([t]))[0]) < 2:
        t += 1
    return max(t, floor_frames)


def graph_from_checkpoint(path: Union[str, Path], device: Union[str, torch.device] = "cpu",
                          min_seconds: float = MIN_SECONDS) -> Tuple[InferenceGraph, Dict[str, Any]]:
    """The inference graph of an accent checkpoint and its metadata (see :func:`metadata`)."""
    model, ckpt = load_model(path, device)
    if ckpt.get("task", ckpt["config"].get("task")) != "accent" or not ckpt.get("labels"):
        raise ValueError(f"{path}: not an accent model checkpoint (task {ckpt['config'].get('task')!r})")
    graph = InferenceGraph(model).to(device).eval()
    return graph, metadata(graph, ckpt, str(path), min_seconds)


def metadata(graph: InferenceGraph, ckpt: Mapping[str, Any], source: str, min_seconds: float = MIN_SECONDS
             ) -> Dict[str, Any]:
    """What inference needs besides the graph; JSON-serialisable."""
    frontend, note = checkpoint_frontend(ckpt)
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
