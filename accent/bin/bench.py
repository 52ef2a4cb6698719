"""Benchmark training throughput (audio-s/s), parameters and peak memory of the encoders.

    python -m accent.bin.bench [--sizes paper demo] [--encoders jasper crnn transformer]
                               [--device auto|cpu|cuda] [--data-dir data/train] [--quick]

Each case trains a full AccentModel (encoder + stats pooling + softmax) for a few steps on
synthetic batches (--batch x --seconds), in its own process; on CUDA also with bf16.  With
--data-dir, also through the real DataLoader, reporting the share of step time spent waiting for
data.  --quick: tiny models and one step each (a smoke test).
"""

from __future__ import annotations

import os

# Idle OpenMP threads sleep instead of spinning: on a shared or busy CPU, spinning threads of
# concurrent jobs starve each other (measured here: 2 spinning threads under load were up to 10x
# slower than 1).  Must be set before torch is imported; an explicit setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
from typing import Any, Mapping, Optional, Sequence  # noqa: E402

from accent.utils.cli import run  # noqa: E402


def bench_parser(doc: str) -> argparse.ArgumentParser:
    """The options of both encoder benchmarks (this one and ``accent.bin.bench_inference``):
    which encoders at which sizes, the synthetic utterances' length, and a JSON copy of the rows."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--sizes", nargs="+", default=["paper", "demo"], choices=["paper", "demo"])
    p.add_argument("--encoders", nargs="+", default=["jasper", "crnn", "transformer"],
                   choices=["jasper", "crnn", "transformer"])
    p.add_argument("--seconds", type=float, default=4.0, help="seconds per synthetic utterance")
    p.add_argument("--json", default=None, help="also write the rows as JSON here")
    return p


def write_rows(rows: Sequence[Mapping[str, Any]], path: Optional[str]) -> None:
    """The result rows as JSON at ``path`` (nothing without one)."""
    if path:
        from accent.data.kaldi_dir import write_text_atomic

        write_text_atomic(path, json.dumps(list(rows), indent=2))


def main() -> None:
    p = bench_parser(__doc__)
    p.add_argument("--device", default="auto")
    p.add_argument("--batch", type=int, default=8, help="utterances per synthetic batch")
    p.add_argument("--steps", type=int, default=3, help="timed training steps")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    p.add_argument("--data-dir", default=None, help="also train through the real DataLoader on this data dir")
    p.add_argument("--num-workers", type=int, default=0, help="DataLoader workers for --data-dir")
    p.add_argument("--loader-steps", type=int, default=10, help="steps through the DataLoader")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    p.add_argument("--quick", action="store_true", help="tiny models, one step: a smoke test")
    args = p.parse_args()

    from accent.training.bench import benchmark, format_table  # torch: after --help

    rows = benchmark(args.sizes, args.encoders, args.device, args.batch, args.seconds, args.steps, args.warmup,
                     args.data_dir, args.num_workers, args.loader_steps, args.quick, args.threads)
    print(format_table(rows), flush=True)
    write_rows(rows, args.json)


if __name__ == "__main__":
    run(main)
