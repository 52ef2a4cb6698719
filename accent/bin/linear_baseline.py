"""Accuracy of mean+std pooled FBank + logistic regression (a floor for accent ID on a data set)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from accent.evaluation.linear_baseline import linear_baseline_accuracy
from accent.utils.cli import run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("train_dir", type=Path, help="data dir with feats.scp, utt2accent and accents")
    p.add_argument("eval_dir", type=Path)
    p.add_argument("--C", type=float, default=1.0, help="inverse regularisation strength")
    args = p.parse_args()
    acc = linear_baseline_accuracy(args.train_dir, args.eval_dir, args.C)
    logging.getLogger("accent").info("pooled-FBank logistic regression: %.1f %% on %s", 100 * acc, args.eval_dir)
    print(f"{100 * acc:.1f}")


if __name__ == "__main__":
    run(main)
