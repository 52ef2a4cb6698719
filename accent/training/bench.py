"""Training-throughput benchmark of the encoders, at paper size and at demo size.

For each encoder: a full ``AccentModel`` (encoder + stats pooling + softmax head) trained for a
few Adam steps on synthetic batches (default 8 utterances x 4 s of 40-dim features); reports the
parameters, the training throughput in audio-seconds per second, and the peak memory (CPU: the
process's RSS high-water mark from ``getrusage``; CUDA: ``torch.cuda.max_memory_allocated``).
Every case runs in a fresh (spawned) process, so the RSS high-water mark is that case's own.
On CUDA each case also runs with bf16 autocast.

With a data dir, the same model also trains through the real data pipeline (``FeatsDataset`` +
``BucketBatchSampler`` + ``DataLoader``), which measures the share of the step time spent
waiting for data.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence

import torch

from accent.models.zoo import DEMO_ENCODERS, PAPER_ENCODERS, QUICK_ENCODERS, bench_model  # noqa: F401

def _peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def _autocast(device: torch.device, amp: str):
    import contextlib

    if amp == "none" or device.type != "cuda":
        return contextlib.nullcontext()
    return torch.autocast("cuda", dtype=torch.bfloat16 if amp == "bf16" else torch.float16)


def _bench_case(case: Mapping[str, Any]) -> Dict[str, Any]:
    """One case, run in its own process: synthetic batches, then (optionally) the real loader."""
    torch.manual_seed(0)
    device = torch.device(case["device"])
    if case.get("threads"):
        torch.set_num_threads(int(case["threads"]))
    num_classes, input_dim = 8, 40
    model = bench_model(case["encoder"], input_dim, num_classes).to(device)
    model.train()
    opt = torch.optim.Adam(model.trainable_parameters(), lr=1e-4)
    b, t = int(case["batch"]), int(round(case["seconds"] * 100))
    feats = torch.randn(b, t, input_dim, device=device)
    lengths = torch.full((b,), t, dtype=torch.long, device=device)
    labels = torch.randint(0, num_classes, (b,), device=device)
    amp = case["amp"]

    def step(x, lens, y):
        with _autocast(device, amp):
            loss = model({"feats": x, "lengths": lens, "labels": y})[0]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(int(case["warmup"])):
        step(feats, lengths, labels)
    sync()
    t0 = time.perf_counter()
    for _ in range(int(case["steps"])):
        step(feats, lengths, labels)
    sync()
    elapsed = time.perf_counter() - t0
    out = {
        "params": sum(p.numel() for p in model.parameters()),
        "audio_s_per_s": case["steps"] * b * case["seconds"] / elapsed,
        "step_s": elapsed / case["steps"],
        "peak_mb": _peak_memory_mb(device),
    }
    if case.get("data_dir"):
        out.update(_bench_loader(case, model, step, sync, device))
    return out


def _bench_loader(case, model, step, sync, device) -> Dict[str, Any]:
    from accent.dataset import BucketBatchSampler, FeatsDataset, SpecAugment, make_loader

    ds = FeatsDataset(case["data_dir"], labels=None, tokenizer=None,
                      specaug=SpecAugment(), require_labels=False, require_targets=False)
    # at least two utterances per batch (the embedding's batch norm needs them in training)
    frames = max(int(case["batch"] * case["seconds"] * 100), 2 * max(ds.lengths))
    sampler = BucketBatchSampler(ds.lengths, frames, shuffle=True, seed=0)
    loader = make_loader(ds, sampler, num_workers=int(case["num_workers"]), pin_memory=device.type == "cuda")
    num_classes = 8
    wait = total = audio = 0.0
    n = 0
    t_last = time.perf_counter()
    for batch in loader:
        t_data = time.perf_counter()
        x = batch["feats"].to(device, non_blocking=True)
        lens = batch["lengths"].to(device, non_blocking=True)
        y = torch.randint(0, num_classes, (x.size(0),), device=device)
        step(x, lens, y)
        sync()
        now = time.perf_counter()
        if n > 0:  # the first batch includes the workers' start-up
            wait += t_data - t_last
            total += now - t_last
            audio += float(batch["lengths"].sum()) / 100
        t_last = now
        n += 1
        if n > int(case["loader_steps"]):
            break
    return {"loader_audio_s_per_s": audio / max(total, 1e-9), "data_wait_frac": wait / max(total, 1e-9),
            "loader_steps": n - 1}


def _child(case: Mapping[str, Any], queue, fn=_bench_case) -> None:
    try:
        queue.put(("ok", fn(case)))
    except BaseException as e:  # reported in the parent
        import traceback

        queue.put(("error", f"{type(e).__name__}: {e}\n{traceback.format_exc()}"))


def _in_process(ctx, case: Mapping[str, Any], fn=_bench_case) -> Dict[str, Any]:
    """Run ``fn(case)`` (a module-level function) in a fresh non-daemonic process (its DataLoader
    may start workers)."""
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(case, queue, fn))
    proc.start()
    status, value = queue.get()
    proc.join()
    if status != "ok":
        raise RuntimeError(f"benchmark case {case['encoder'].get('name')} failed: {value}")
    return value


def benchmark(
    sizes: Sequence[str] = ("paper", "demo"),
    encoders: Sequence[str] = ("jasper", "crnn", "transformer"),
    device: str = "auto",
    batch: int = 8,
    seconds: float = 4.0,
    steps: int = 3,
    warmup: int = 1,
    data_dir: Optional[str] = None,
    num_workers: int = 0,
    loader_steps: int = 10,
    quick: bool = False,
    threads: Optional[int] = None,
) -> List[Dict[str, Any]]:
    """Run every (size, encoder, amp) case in a spawned process; one result row per case."""
    from accent.utils.device import resolve_device

    dev = resolve_device(device)
    tables = {"paper": PAPER_ENCODERS, "demo": DEMO_ENCODERS, "quick": QUICK_ENCODERS}
    if quick:
        sizes, batch, seconds, steps, warmup, loader_steps = ("quick",), 2, 1.0, 1, 1, 2
    amps = ["none", "bf16"] if dev.type == "cuda" else ["none"]
    rows = []
    ctx = mp.get_context("spawn")
    for size in sizes:
        for enc in encoders:
            for amp in amps:
                case = {"encoder": tables[size][enc], "device": str(dev), "batch": batch, "seconds": seconds,
                        "steps": steps, "warmup": warmup, "amp": amp, "data_dir": data_dir,
                        "num_workers": num_workers, "loader_steps": loader_steps, "threads": threads}
                res = _in_process(ctx, case)
                rows.append({"size": size, "encoder": enc, "device": dev.type, "amp": amp, **res})
    return rows


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    head = ["size", "encoder", "device", "amp", "params", "audio-s/s", "step s", "peak MB"]
    with_loader = any("data_wait_frac" in r for r in rows)
    if with_loader:
        head += ["loader audio-s/s", "data wait"]
    lines = [head]
    for r in rows:
        line = [r["size"], r["encoder"], r["device"], r["amp"], f"{r['params'] / 1e6:.2f}M",
                f"{r['audio_s_per_s']:.1f}", f"{r['step_s']:.3f}", f"{r['peak_mb']:.0f}"]
        if with_loader:
            line += [f"{r.get('loader_audio_s_per_s', float('nan')):.1f}",
                     f"{100 * r.get('data_wait_frac', float('nan')):.1f}%"]
        lines.append(line)
    widths = [max(len(str(l[i])) for l in lines) for i in range(len(head))]
    return "\n".join("  ".join(str(c).rjust(w) for c, w in zip(l, widths)) for l in lines)
