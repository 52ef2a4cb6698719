"""Inference speed of the encoders: real-time factor per backend, batch size and thread count.

For each encoder (the training benchmark's paper- and demo-size configs, in the same
encoder + stats pooling + softmax model), the inference graph (CMVN, model, softmax; FBank
features in) runs as PyTorch, TorchScript and ONNX Runtime on synthetic utterances of
``seconds`` each, at batch 1 and ``batch``, on one thread and on all.  RTF here = audio seconds
scored per second of compute (higher is faster; 200 means 200x faster than real time).  The
FBank front end's own speed is reported in a separate line.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import numpy as np
import torch

from accent.export.exporter import export_onnx, export_torchscript
from accent.export.model_file import FILENAMES
from accent.export.graph import MIN_SECONDS, InferenceGraph, encoder_min_frames
from accent.features.fbank import FbankConfig, compute_fbank
from accent.models.zoo import DEMO_ENCODERS, PAPER_ENCODERS, bench_model

from .backends import OnnxBackend, TorchScriptBackend, resolve_device

BACKENDS = ("pytorch", "torchscript", "onnx")


def _timed(fn: Callable[[], Any], sync: Callable[[], None], min_time: float, warmup: int = 3) -> float:
    """Seconds per call, over at least ``min_time`` seconds and 3 calls after ``warmup`` calls."""
    for _ in range(warmup):  # TorchScript's profiling executor optimises during its first calls
        fn()
    sync()
    n, t0 = 0, time.perf_counter()
    while n < 3 or time.perf_counter() - t0 < min_time:
        fn()
        n += 1
    sync()
    return (time.perf_counter() - t0) / n


def fbank_rtf(seconds: float = 4.0, min_time: float = 1.0) -> float:
    """Audio seconds per second of compute of the FBank front end (one thread, numpy in)."""
    samples = (0.1 * np.random.default_rng(0).standard_normal(int(seconds * 16000))).astype(np.float32)
    cfg = FbankConfig()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return seconds / _timed(lambda: compute_fbank(samples, 16000, cfg), lambda: None, min_time)
    finally:
        torch.set_num_threads(threads)


def bench_encoder(encoder: Mapping[str, Any], device: str = "cpu", seconds: float = 4.0,
                  batches: Sequence[int] = (1, 8), threads: Sequence[int] = (1, 0),
                  backends: Sequence[str] = BACKENDS, min_time: float = 1.0) -> List[Dict[str, Any]]:
    """One row per (backend, threads, batch); ``threads`` 0 = all cores."""
    torch.manual_seed(0)
    dev = resolve_device(device)
    input_dim = 40
    model = bench_model(encoder, input_dim, 8)
    graph = InferenceGraph(model).to(dev).eval()
    meta = {"labels": [str(i) for i in range(8)], "input_dim": input_dim,
            "min_frames": encoder_min_frames(model, int(MIN_SECONDS * 100)), "torchscript_device": dev.type,
            "frontend": FbankConfig(num_mel_bins=input_dim).to_dict()}  # what the files say they take
    params = sum(p.numel() for p in model.parameters())
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        if "torchscript" in backends:
            files["torchscript"] = export_torchscript(graph, meta, Path(tmp) / FILENAMES["torchscript"])
        if "onnx" in backends:
            files["onnx"] = export_onnx(graph, meta, Path(tmp) / FILENAMES["onnx"])
            graph.to(dev)  # the ONNX export runs on a CPU copy
        for n_threads in threads:
            n = n_threads or os.cpu_count() or 1
            torch.set_num_threads(n)
            runners: Dict[str, Callable] = {}
            for kind in backends:
                if kind == "pytorch":
                    runners[kind] = graph
                elif kind == "torchscript":
                    runners[kind] = TorchScriptBackend(files[kind], str(dev)).module
                else:
                    runners[kind] = OnnxBackend(files[kind], str(dev), threads=n)
            for batch in batches:
                t = int(round(seconds * 100))
                feats = 10.0 + 3.0 * torch.randn(batch, t, input_dim)
                lengths = torch.full((batch,), t, dtype=torch.long)
                for kind, run in runners.items():
                    if kind == "onnx":
                        f, l = feats.numpy(), lengths.numpy()
                        call = lambda: run(f, l)  # noqa: E731
                    else:
                        f, l = feats.to(dev), lengths.to(dev)

                        def call(run=run, f=f, l=l):
                            with torch.inference_mode():
                                return run(f, l)
                    per_call = _timed(call, sync, min_time)
                    rows.append({"backend": kind, "threads": n, "batch": batch, "device": dev.type,
                                 "params": params, "ms_per_call": 1000 * per_call,
                                 "rtf": batch * seconds / per_call})
    return rows


def benchmark(sizes: Sequence[str] = ("paper", "demo"), encoders: Sequence[str] = ("jasper", "crnn", "transformer"),
              device: str = "cpu", seconds: float = 4.0, batch: int = 8, backends: Sequence[str] = BACKENDS,
              min_time: float = 1.0, threads: Optional[Sequence[int]] = None) -> List[Dict[str, Any]]:
    tables = {"paper": PAPER_ENCODERS, "demo": DEMO_ENCODERS}
    rows = []
    for size in sizes:
        for enc in encoders:
            for r in bench_encoder(tables[size][enc], device, seconds, (1, batch), threads or (1, 0), backends,
                                   min_time):
                rows.append({"size": size, "encoder": enc, **r})
    return rows


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """One line per (size, encoder, backend); one RTF column per (threads, batch)."""
    cols = sorted({(r["threads"], r["batch"]) for r in rows})
    head = ["size", "encoder", "params", "backend", *[f"{t}thr b{b}" for t, b in cols]]
    lines = [head]
    keys = []
    for r in rows:
        k = (r["size"], r["encoder"], r["backend"])
        if k not in keys:
            keys.append(k)
    for size, enc, kind in keys:
        cells = {(r["threads"], r["batch"]): r for r in rows
                 if (r["size"], r["encoder"], r["backend"]) == (size, enc, kind)}
        params = next(iter(cells.values()))["params"]
        lines.append([size, enc, f"{params / 1e6:.2f}M", kind,
                      *[f"{cells[c]['rtf']:.0f}" if c in cells else "-" for c in cols]])
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(head))]
    return "\n".join("  ".join(str(c).rjust(w) for c, w in zip(line, widths)) for line in lines)
