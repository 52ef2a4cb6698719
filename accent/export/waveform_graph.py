"""The waveform-in inference graph: the model's FBank front end in front of :class:`InferenceGraph`.

``WaveformGraph(fbank, graph)``: ``forward(waveform (B, S) float32 in [-1, 1], num_samples (B,))
-> (posteriors (B, C), embedding (B, E))``, the same outputs as ``graph`` on the FBank of each
utterance's own ``num_samples`` samples.  :class:`accent.features.fbank.Fbank` scales the samples to
int16 (as Kaldi reads audio) and counts frames as Kaldi does (``snip_edges``: ``1 + (n - L) // S``),
so an utterance's features do not depend on its padding; the graph then normalises them.  A
model trained on samples (no FBank; ``fbank`` None) is given them as its (B, S, 1) features.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Optional, Tuple

import torch
import torch.nn as nn

from accent.features.fbank import Fbank, FbankConfig
from accent.utils.device import module_device

from .model_file import WAVEFORM, frames_are_samples, input_spec


class WaveformGraph(nn.Module):
    def __init__(self, fbank: Optional[Fbank], graph: nn.Module):
        super().__init__()
        self.fbank = fbank.eval() if fbank is not None else None
        self.feats_graph = graph  # not "graph": an FX GraphModule's own attribute, which torch.export would shadow

    def forward(self, waveform: torch.Tensor, num_samples: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        if self.fbank is None:  # a model trained on samples
            return self.feats_graph(waveform.unsqueeze(-1), num_samples)
        feats, frames = self.fbank(waveform, num_samples)
        return self.feats_graph(feats, frames)


def waveform_graph(graph: nn.Module, meta: Mapping[str, Any]) -> Tuple[WaveformGraph, Dict[str, Any]]:
    """``graph`` (features in) behind the FBank of ``meta["frontend"]`` (none for a model trained
    on samples), and the metadata of the waveform-in file (``input`` says samples in [-1, 1] at the
    model's rate, and the fewest samples)."""
    frontend = FbankConfig.from_dict(meta["frontend"])
    on_samples = frames_are_samples(meta)
    if frontend.dither != 0.0 and not on_samples:
        # a graph that adds noise would not give the same posteriors twice
        raise ValueError(f"the model's FBank dithers ({frontend.dither}): a waveform-in export needs dither 0")
    wav = WaveformGraph(None if on_samples else Fbank(frontend).to(module_device(graph)), graph).eval()
    return wav, {**meta, "input": input_spec(WAVEFORM, frontend, int(meta["min_frames"]), on_samples)}


def example_waveforms(meta: Mapping[str, Any], batch: int = 2, samples: int = 0,
                      seed: int = 0) -> Tuple[torch.Tensor, torch.Tensor]:
    """Voiced bursts (harmonics of a wandering pitch under a syllable-rate envelope, with a little
    noise, at speech level: -20 dBFS and below) of unequal lengths in samples.  Speech-like, not
    white noise: the check compares the file with PyTorch where models work, and a model that
    amplifies float rounding on inputs unlike any it was trained on (a pretrained GE2E on white
    noise: 3e-3, against 1e-6 on speech) would fail it for nothing."""
    spec = meta["input"]
    g = torch.Generator().manual_seed(seed)
    rate, shortest = int(spec["sample_rate"]), int(spec["min_samples"])
    # 2.375 s by default: not a length whose frame count equals a model's constant size (2 s is 201
    # frames of 10 ms, the 201 bins of a 400-point FFT), which torch.export would take as the same size
    n = samples or max(4 * shortest, 2 * rate + 3 * rate // 8)
    t = torch.arange(n, dtype=torch.float64) / rate
    envelope = 0.5 + 0.5 * torch.sin(2 * math.pi * 3.0 * t)  # syllable-rate bursts
    f0 = 100.0 + 80.0 * torch.rand(batch, 1, generator=g, dtype=torch.float64)
    phase = 2 * math.pi * torch.cumsum(f0 * (1.0 + 0.1 * torch.sin(2 * math.pi * 0.7 * t)), dim=1) / rate
    voiced = sum(torch.sin(k * phase) / k for k in range(1, 11))
    noise = 0.05 * torch.randn(batch, n, generator=g, dtype=torch.float64)
    waveform = (0.05 * envelope * (voiced + noise)).float()
    lengths = torch.tensor([max(shortest, n - 5813 * i) for i in range(batch)])
    return waveform.clamp(-1.0, 1.0), lengths
