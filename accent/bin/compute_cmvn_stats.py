"""Stage 2: global CMVN statistics of a data directory (Kaldi's 2 x (D+1) matrix)."""

from __future__ import annotations

import argparse
from pathlib import Path

from accent.features.cmvn import compute_global_cmvn
from accent.utils.cli import run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("feats_scp", type=Path)
    p.add_argument("out", type=Path, help="e.g. data/train/cmvn.ark")
    args = p.parse_args()
    compute_global_cmvn(args.feats_scp, args.out)


if __name__ == "__main__":
    run(main)
