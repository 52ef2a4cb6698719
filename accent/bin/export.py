"""Export an accent experiment for inference: TorchScript and/or ONNX (stage 7).

    python -m accent.bin.export --exp-dir exp/sarnet_circle [--checkpoint best.pt]
        [--out-dir exp/sarnet_circle/export] [--format torchscript onnx] [--device cpu]

Writes ``model.torchscript.pt`` and ``model.onnx`` (raw FBank features + lengths in, posteriors +
embedding out; labels, FBank options and the shortest input inside each file), then checks that
each exported model agrees with the PyTorch model (--tolerance) on random features, and fails if
not.  Without --checkpoint: avg_N.pt when the config averages the last N epochs, else best.pt.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from accent.utils.cli import run

log = logging.getLogger("accent.export")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--exp-dir", required=True)
    p.add_argument("--checkpoint", default=None, help="checkpoint file name in --exp-dir (default: see above)")
    p.add_argument("--out-dir", default=None, help="default: <exp-dir>/export")
    p.add_argument("--format", nargs="+", default=["torchscript", "onnx"], choices=["torchscript", "onnx"])
    p.add_argument("--device", default="cpu", help="device to trace TorchScript on (ONNX is device-free)")
    p.add_argument("--tolerance", type=float, default=1e-4, help="max |difference| from the PyTorch model")
    args = p.parse_args()

    from accent.export import FILENAMES, export_onnx, export_torchscript, graph_from_checkpoint
    from accent.export.exporter import max_difference
    from accent.inference.backends import OnnxBackend, TorchScriptBackend, experiment_checkpoint

    ckpt = experiment_checkpoint(args.exp_dir, args.checkpoint)
    out_dir = Path(args.out_dir) if args.out_dir else Path(args.exp_dir) / "export"
    out_dir.mkdir(parents=True, exist_ok=True)
    graph, meta = graph_from_checkpoint(ckpt, args.device)
    if meta["frontend_note"]:
        log.warning("%s: %s", ckpt, meta["frontend_note"])
    log.info("%s: %s encoder, %d labels (%s), CMVN %s, min %d frames", ckpt, meta["encoder"], len(meta["labels"]),
             " ".join(meta["labels"]), meta["cmvn"], meta["min_frames"])
    runners = {"torchscript": (export_torchscript, lambda f: TorchScriptBackend(f, args.device)),
               "onnx": (export_onnx, OnnxBackend)}
    report = {"checkpoint": str(ckpt), "files": {}}
    for fmt in args.format:
        export, backend = runners[fmt]
        path = out_dir / FILENAMES[fmt]
        t0 = time.time()
        export(graph, meta, path)
        diff = max_difference(graph, backend(path), meta)
        log.info("%s: written in %.1f s, %.1f MB; max |difference| from PyTorch %.2e", path, time.time() - t0,
                 path.stat().st_size / 2**20, diff)
        if not diff <= args.tolerance:
            path.unlink()
            raise SystemExit(f"{path}: the exported model differs from PyTorch by {diff:.2e} > {args.tolerance:g}; "
                             "removed")
        report["files"][fmt] = {"path": str(path), "max_difference": diff}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    run(main)
