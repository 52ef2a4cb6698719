"""Benchmark inference speed (real-time factor) of the encoders: PyTorch, TorchScript, ONNX Runtime.

    python -m accent.bin.bench_inference [--sizes paper demo] [--encoders jasper crnn transformer]
        [--device cpu|cuda|auto] [--seconds 4] [--batch 8] [--threads 1 0] [--json rows.json]

RTF = audio seconds scored per second of compute (the inference graph: CMVN + model + softmax on
FBank features), at batch 1 and --batch, on each --threads count (0 = all cores).  The FBank
front end's own speed is printed first.
"""

from __future__ import annotations

import os

# as accent.bin.bench: idle OpenMP threads sleep instead of spinning (set before torch loads)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from accent.bin.bench import bench_parser, write_rows  # noqa: E402
from accent.utils.cli import run  # noqa: E402


def main() -> None:
    p = bench_parser(__doc__)
    p.add_argument("--backends", nargs="+", default=["pytorch", "torchscript", "onnx"],
                   choices=["pytorch", "torchscript", "onnx"])
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch", type=int, default=8, help="the batched case (batch 1 is always run)")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 0], help="thread counts; 0 = all cores")
    p.add_argument("--min-time", type=float, default=1.0, help="seconds of timed calls per case")
    args = p.parse_args()

    from accent.inference.bench import benchmark, fbank_rtf, format_table

    print(f"FBank front end (accent.features.fbank.Fbank, 1 thread): {fbank_rtf(args.seconds):.0f}x real time", flush=True)
    rows = benchmark(args.sizes, args.encoders, args.device, args.seconds, args.batch, args.backends,
                     args.min_time, args.threads)
    print(f"Inference RTF (x real time) on {rows[0]['device']}, {args.seconds:g} s utterances; "
          f"columns: threads, batch", flush=True)
    print(format_table(rows), flush=True)
    write_rows(rows, args.json)


if __name__ == "__main__":
    run(main)
