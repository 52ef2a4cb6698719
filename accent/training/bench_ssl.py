"""Speed of the ssl encoder: audio-seconds per second for training and inference, and peak memory.

Models are randomly initialised from a ``transformers`` config (nothing is downloaded): ``base``
is WavLM Base+'s architecture (12 layers, 768 wide, 94.7 M parameters in the encoder; HuBERT
Base and wav2vec2-base have the same shape and cost), ``tiny`` the demo config's
(``egs/aesrc/conf/demo/ssl_tiny.yaml``).  Each sits in a full ``AccentModel`` (statistics pooling,
softmax head) on batches of ``batch`` x ``seconds`` of synthetic 16 kHz waveform.  Modes:

* ``finetune``: a training step (forward, backward, AdamW) with the Transformer trained and the
  CNN feature encoder frozen, as ``freeze: false``;
* ``frozen``: a training step with the SSL model frozen (``freeze: true``): only the layer
  weights, pooling and head learn;
* ``infer``: eval mode under ``torch.inference_mode`` (scoring, accent-id).

Every case runs in its own spawned process, so the CPU peak (the RSS high-water mark) is its
own; on CUDA the peak is ``torch.cuda.max_memory_allocated`` and each case also runs with bf16
autocast.
"""

from __future__ import annotations

import copy
import multiprocessing as mp
import time
from typing import Any, Dict, List, Mapping, Sequence

import torch

from accent.models.zoo import bench_model

from .bench import _autocast, _in_process, _peak_memory_mb

SAMPLE_RATE = 16000
SIZES: Dict[str, Dict[str, Any]] = {
    # transformers' WavLMConfig defaults are WavLM Base (+: the same architecture, more data)
    "base": {"model_type": "wavlm"},
    "tiny": {"model_type": "wavlm", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
             "intermediate_size": 128, "conv_dim": [64] * 7, "num_conv_pos_embeddings": 32,
             "num_conv_pos_embedding_groups": 4},
}
MODES = ("finetune", "frozen", "infer")


def encoder_config(size: str, mode: str) -> Dict[str, Any]:
    return {"name": "ssl", "hf_config": {**copy.deepcopy(SIZES[size]), "mask_time_prob": 0.0},
            "freeze": mode != "finetune", "freeze_feature_encoder": True}


def _bench_case(case: Mapping[str, Any]) -> Dict[str, Any]:
    torch.manual_seed(0)
    device = torch.device(case["device"])
    if case.get("threads"):
        torch.set_num_threads(int(case["threads"]))
    model = bench_model(case["encoder"], 1, 8, normalize="none").to(device)  # samples: the encoder normalises
    b, n = int(case["batch"]), int(round(case["seconds"] * SAMPLE_RATE))
    wav = (0.1 * torch.randn(b, n, 1)).to(device)
    lengths = torch.full((b,), n, dtype=torch.long, device=device)
    labels = torch.randint(0, 8, (b,), device=device)
    train = case["mode"] != "infer"
    model.train(train)
    opt = torch.optim.AdamW(model.trainable_parameters(), lr=1e-5) if train else None

    def step() -> None:
        if not train:
            with torch.inference_mode(), _autocast(device, case["amp"]):
                model.predict(wav, lengths)
            return
        with _autocast(device, case["amp"]):
            loss = model({"feats": wav, "lengths": lengths, "labels": labels})[0]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(int(case["warmup"])):
        step()
    sync()
    t0 = time.perf_counter()
    for _ in range(int(case["steps"])):
        step()
    sync()
    elapsed = time.perf_counter() - t0
    return {
        "params": sum(p.numel() for p in model.parameters()),
        "trainable": sum(p.numel() for p in model.trainable_parameters()),
        "audio_s_per_s": case["steps"] * b * case["seconds"] / elapsed,
        "step_s": elapsed / case["steps"],
        "peak_mb": _peak_memory_mb(device),
    }


def benchmark(sizes: Sequence[str] = ("base", "tiny"), modes: Sequence[str] = MODES, device: str = "auto",
              batch: int = 4, seconds: float = 4.0, steps: int = 3, warmup: int = 1, threads: int = 0,
              bf16: bool = True) -> List[Dict[str, Any]]:
    """One row per (size, mode, amp) case, each run in a spawned process."""
    from accent.utils.device import resolve_device

    dev = resolve_device(device)
    amps = ["none", "bf16"] if dev.type == "cuda" and bf16 else ["none"]
    ctx = mp.get_context("spawn")
    rows = []
    for size in sizes:
        for mode in modes:
            for amp in amps:
                case = {"encoder": encoder_config(size, mode), "mode": mode, "device": str(dev), "amp": amp,
                        "batch": batch, "seconds": seconds, "steps": steps, "warmup": warmup, "threads": threads}
                res = _in_process(ctx, case, _bench_case)
                rows.append({"size": size, "mode": mode, "device": dev.type, "amp": amp, "batch": batch,
                             "seconds": seconds, "threads": threads or torch.get_num_threads(), **res})
    return rows


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    head = ["size", "mode", "device", "amp", "params", "trainable", "batch x s", "audio-s/s", "step s", "peak MB"]
    lines = [head] + [[r["size"], r["mode"], r["device"], r["amp"], f"{r['params'] / 1e6:.2f}M",
                       f"{r['trainable'] / 1e6:.2f}M", f"{r['batch']} x {r['seconds']:g}", f"{r['audio_s_per_s']:.2f}",
                       f"{r['step_s']:.3f}", f"{r['peak_mb']:.0f}"] for r in rows]
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(head))]
    return "\n".join("  ".join(str(c).rjust(w) for c, w in zip(line, widths)) for line in lines)
