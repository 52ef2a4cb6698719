"""Score-level fusion of scored accent experiments (their decode directories): the first system
weighs 1, the others' weights are chosen on the dev set (or taken from an earlier fusion); the
result is an experiment directory.

    python -m accent.bin.fuse --out-dir exp/real_ecapa_c128_prlm_fusion --sets dev test \\
        exp/real_ecapa_c128 exp/phonotactic
    python -m accent.bin.fuse --out-dir exp/real_ecapa_c128_refit_prlm_fusion --sets test \\
        --weights-from exp/real_ecapa_c128_prlm_fusion exp/real_ecapa_c128_refit exp/phonotactic_refit
"""

from __future__ import annotations

import argparse
from pathlib import Path

from accent.utils.cli import run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("experiments", type=Path, nargs="+", help="scored experiment dirs (stage 6 decode dirs)")
    p.add_argument("--out-dir", type=Path, required=True)
    p.add_argument("--sets", nargs="+", default=["dev"], help="decoded sets to fuse (the first labelled one: dev)")
    p.add_argument("--dev", default="dev", help="the set the weights are chosen on")
    p.add_argument("--weights-from", type=Path,
                   help="an earlier fusion dir of as many systems: take its weights instead (refitted systems)")
    args = p.parse_args()
    from accent.evaluation.fusion import fuse_experiments

    fuse_experiments(args.experiments, args.out_dir, args.sets, args.dev, args.weights_from)


if __name__ == "__main__":
    run(main)
