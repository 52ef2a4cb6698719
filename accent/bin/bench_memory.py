"""Peak memory (RSS) of accent-id on long inputs: 10 min, 1 h and 4 h of generated audio.

    python -m accent.bin.bench_memory [--minutes 10 60 240] [--model exp/<name> | model.onnx]
        [--workdir DIR] [--keep] [--json rows.json] [-- accent-id options ...]

Prints a table (input length, peak RSS, wall time); see accent/inference/bench_memory.py.  The
inputs are written to --workdir (default: a temporary folder; 4 h of 16 kHz 16-bit WAV is 440 MB)
and removed unless --keep.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from accent.utils.cli import run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--minutes", type=float, nargs="+", default=[10, 60, 240], help="input lengths")
    p.add_argument("--model", default=None, help="default: a demo-size CRNN with random weights")
    p.add_argument("--workdir", default=None)
    p.add_argument("--keep", action="store_true", help="keep the generated inputs")
    p.add_argument("--json", default=None, help="also write the rows as JSON here")
    p.add_argument("extra", nargs="*", help="accent-id options, after --")
    args = p.parse_args()

    from accent.bin.bench import write_rows
    from accent.inference.bench_memory import benchmark, format_table

    with tempfile.TemporaryDirectory() as tmp:
        rows = benchmark(args.minutes, Path(args.workdir or tmp), args.model, args.extra, args.keep)
    print(format_table(rows), flush=True)
    write_rows(rows, args.json)


if __name__ == "__main__":
    run(main)
