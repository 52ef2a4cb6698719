"""Average the model weights of several checkpoints (by default the last N epochs of an experiment).

    python -m accent.bin.average_checkpoints --exp-dir exp/X --num 10 [--out exp/X/avg_10.pt]
    python -m accent.bin.average_checkpoints --checkpoints exp/X/epoch_8.pt exp/X/epoch_9.pt --out avg.pt

The result keeps the config, label list, units and normalisation of the newest checkpoint, so it
loads like any other (``accent.training.load_model``); the training state is dropped.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from accent.training.checkpoint import average_checkpoints, epoch_checkpoints, save_checkpoint
from accent.utils.cli import run

log = logging.getLogger("accent.average_checkpoints")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--exp-dir", help="experiment directory holding epoch_N.pt files")
    src.add_argument("--checkpoints", nargs="+", help="explicit checkpoint files")
    p.add_argument("--num", type=int, default=5, help="with --exp-dir: average the last N epochs")
    p.add_argument("--out", default=None, help="output (default: <exp-dir>/avg_<N>.pt)")
    args = p.parse_args()
    if args.exp_dir:
        ckpts = [path for _, path in epoch_checkpoints(args.exp_dir)]
        if not ckpts:
            raise FileNotFoundError(f"{args.exp_dir}: no epoch_N.pt checkpoints")
        if len(ckpts) < args.num:
            log.warning("%s: only %d epoch checkpoints kept, averaging those", args.exp_dir, len(ckpts))
        paths = ckpts[-args.num:]
        out = Path(args.out) if args.out else Path(args.exp_dir) / f"avg_{len(paths)}.pt"
    else:
        paths = [Path(c) for c in args.checkpoints]
        if not args.out:
            p.error("--out is required with --checkpoints")
        out = Path(args.out)
    save_checkpoint(average_checkpoints(paths), out)
    log.info("averaged %s -> %s", ", ".join(x.name for x in paths), out)


if __name__ == "__main__":
    run(main)
