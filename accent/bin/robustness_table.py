"""Collect the robustness experiments (exp/robust_<variant>_<method>/results.json) into the
Table-3-like markdown table: dev accent accuracy (%) per transcript variant and method.

    python -m accent.bin.robustness_table --exp-root exp --out exp/robustness/table.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

from accent.analysis.robustness import METHODS, VARIANTS, collect, experiment_dir, robustness_table
from accent.data.kaldi_dir import write_text_atomic
from accent.utils.cli import run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp-root", type=Path, default=Path("exp"))
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), help="thetas and/or 'random'")
    p.add_argument("--methods", nargs="+", default=list(METHODS))
    p.add_argument("--out", type=Path, default=None, help="also write the table here")
    args = p.parse_args()
    results = collect(args.exp_root, args.variants, args.methods)
    missing = [str(experiment_dir(args.exp_root, v, m)) for v in args.variants for m in args.methods
               if results[v][m] is None]
    if len(missing) == len(args.variants) * len(args.methods):
        raise FileNotFoundError(f"no results.json in any of {', '.join(missing)}")
    table = robustness_table(results)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(args.out, table)
    print(table, end="")


if __name__ == "__main__":
    run(main)
