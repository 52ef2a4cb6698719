"""Benchmark accent-id: start-up against a bare ``import onnxruntime, soundfile, numpy``, and 50
files end to end against another commit's tree.

    python -m accent.bin.bench_accent_id [--workdir DIR] [--checkpoint best.pt] [--audio DIR|wav.scp]
        [--num-files 50] [--baseline-tree /tmp/accent_1570574] [--repeats 5] [--json out.json]

Every row is a fresh process (wall and CPU seconds, median of --repeats interleaved runs, one
thread).  The model is the waveform-in ONNX export (model_wav.onnx) of --checkpoint (default: a
demo-size CRNN with random weights); the baseline scores the same files with the model.onnx its
own tree exports from the same checkpoint (make the tree with
``git worktree add --detach /tmp/accent_1570574 1570574``).  Without --audio, a small demo
AESRC2020 corpus is generated in --workdir.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from accent.bin.bench import write_rows
from accent.utils.cli import run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--workdir", type=Path, default=None, help="models, audio and outputs (default: a temp dir)")
    p.add_argument("--checkpoint", type=Path, default=None, help="accent checkpoint (default: random demo-size CRNN)")
    p.add_argument("--audio", default=None, help="a directory of *.wav/*.flac or a wav.scp (default: demo corpus)")
    p.add_argument("--num-files", type=int, default=50, help="files of the end-to-end rows")
    p.add_argument("--baseline-tree", type=Path, default=None, help="a checkout of the commit to compare with")
    p.add_argument("--repeats", type=int, default=5, help="runs per row (the median is reported)")
    p.add_argument("--json", default=None, help="also write the results as JSON here")
    args = p.parse_args()

    from accent.inference.audio import expand_inputs
    from accent.inference.bench_cli import benchmark, format_report

    audio = list(expand_inputs([args.audio]).values()) if args.audio else None
    with tempfile.TemporaryDirectory() as tmp:
        result = benchmark(args.workdir or Path(tmp), args.checkpoint, audio, args.num_files, args.baseline_tree,
                           args.repeats)
    print(format_report(result), flush=True)
    write_rows([result], args.json)


if __name__ == "__main__":
    run(main)
