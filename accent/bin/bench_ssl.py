"""Benchmark the ssl encoder: training and inference audio-s/s and peak memory, base and tiny size.

    python -m accent.bin.bench_ssl [--sizes base tiny] [--modes finetune frozen infer]
                                   [--device auto|cpu|cuda] [--batch 4] [--seconds 4] [--threads 1]

Randomly initialised WavLM models (Base+'s architecture, 94.7 M parameters, and the demo's tiny
one): nothing is downloaded.  Each case runs in its own process; on CUDA also with bf16
(--no-bf16: not).  See accent.training.bench_ssl.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as accent.bin.bench: idle threads sleep

import argparse  # noqa: E402

from accent.bin.bench import write_rows  # noqa: E402
from accent.utils.cli import run  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--sizes", nargs="+", default=["base", "tiny"], choices=["base", "tiny"])
    p.add_argument("--modes", nargs="+", default=["finetune", "frozen", "infer"],
                   choices=["finetune", "frozen", "infer"])
    p.add_argument("--device", default="auto")
    p.add_argument("--batch", type=int, default=4, help="utterances per synthetic batch")
    p.add_argument("--seconds", type=float, default=4.0, help="seconds per synthetic utterance (16 kHz)")
    p.add_argument("--steps", type=int, default=3, help="timed steps")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    p.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    p.add_argument("--no-bf16", action="store_true", help="CUDA: float32 only")
    p.add_argument("--json", default=None, help="also write the rows as JSON here")
    args = p.parse_args()

    from accent.training.bench_ssl import benchmark, format_table  # torch: after --help

    rows = benchmark(args.sizes, args.modes, args.device, args.batch, args.seconds, args.steps, args.warmup,
                     args.threads, not args.no_bf16)
    print(format_table(rows), flush=True)
    write_rows(rows, args.json)


if __name__ == "__main__":
    run(main)
