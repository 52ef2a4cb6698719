"""Export an accent experiment for inference: TorchScript and/or ONNX (stage 7).

    python -m accent.bin.export --exp-dir exp/sarnet_circle [--checkpoint best.pt]
        [--out-dir exp/sarnet_circle/export] [--format torchscript onnx onnx_wav] [--device cpu]

Formats (accent.export.model_file): ``torchscript`` -> ``model.torchscript.pt`` and ``onnx`` ->
``model.onnx`` take raw FBank features (int16 sample scale, as Kaldi) + lengths in frames;
``onnx_wav`` -> ``model_wav.onnx`` and ``torchscript_wav`` -> ``model_wav.torchscript.pt`` take the
waveform (mono float32 in [-1, 1] at the FBank's rate) + lengths in samples, with the FBank and the
normalisation inside.  All give posteriors + embedding; labels, FBank options, the input, its scale
and rate, and the shortest input are inside each file.  Each is written under a temporary name,
checked against the PyTorch model (--tolerance) on random inputs, and renamed into place only if
it agrees: a killed or failed export leaves no model file.  Without --checkpoint: avg_N.pt when the
config averages the last N epochs, else best.pt.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from accent.export.model_file import FORMATS
from accent.utils.cli import run

log = logging.getLogger("accent.export")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--exp-dir", required=True)
    p.add_argument("--checkpoint", default=None, help="checkpoint file name in --exp-dir (default: see above)")
    p.add_argument("--out-dir", default=None, help="default: <exp-dir>/export")
    p.add_argument("--format", nargs="+", default=["torchscript", "onnx", "onnx_wav"], choices=FORMATS)
    p.add_argument("--device", default="cpu", help="device to trace TorchScript on (ONNX is device-free)")
    p.add_argument("--tolerance", type=float, default=1e-4, help="max |difference| from the PyTorch model")
    args = p.parse_args()

    from accent.export import FILENAMES, graph_from_checkpoint
    from accent.export.exporter import ExportMismatch, export_model
    from accent.inference.backends import experiment_checkpoint

    ckpt = experiment_checkpoint(args.exp_dir, args.checkpoint)
    out_dir = Path(args.out_dir) if args.out_dir else Path(args.exp_dir) / "export"
    out_dir.mkdir(parents=True, exist_ok=True)
    graph, meta = graph_from_checkpoint(ckpt, args.device)
    if meta["frontend_note"]:
        log.warning("%s: %s", ckpt, meta["frontend_note"])
    log.info("%s: %s encoder, %d labels (%s), CMVN %s, min %d frames", ckpt, meta["encoder"], len(meta["labels"]),
             " ".join(meta["labels"]), meta["cmvn"], meta["min_frames"])
    report = {"checkpoint": str(ckpt), "files": {}}
    for fmt in args.format:
        path = out_dir / FILENAMES[fmt]
        t0 = time.time()
        graph.to(args.device)  # the ONNX export runs on a CPU copy
        try:
            diff = export_model(graph, meta, fmt, path, args.tolerance)
        except ExportMismatch as e:
            raise SystemExit(str(e)) from None
        log.info("%s: written and checked in %.1f s, %.1f MB; max |difference| from PyTorch %.2e", path,
                 time.time() - t0, path.stat().st_size / 2**20, diff)
        report["files"][fmt] = {"path": str(path), "max_difference": diff}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    run(main)
