"""Collect scored experiments into one Markdown table like the AESRC papers' Table 2.

    python -m accent.bin.collect_results --out RESULTS.md exp/a exp/b ...

One row per experiment (name, config, per-accent dev accuracy, dev accuracy and macro average,
test accuracy where scored, the commit that trained it), from the decode directories that
``accent.bin.score`` wrote.  Without --out the table is printed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from accent.data.kaldi_dir import write_text_atomic
from accent.utils.cli import run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("exp_dirs", type=Path, nargs="+")
    p.add_argument("--out", type=Path, help="Markdown file to write (atomically)")
    p.add_argument("--dev", default="dev", help="the set of the per-accent columns (decode_<dev>)")
    p.add_argument("--test", default="test", help="the set of the test column, when scored")
    p.add_argument("--checkpoint", default="best.pt", help="the checkpoint that was scored")
    p.add_argument("--title", default="Accent recognition results")
    args = p.parse_args()

    from accent.evaluation.results_table import load_experiment, results_document

    exps = [load_experiment(d, (args.dev, args.test), args.checkpoint) for d in args.exp_dirs]
    doc = results_document(exps, args.title, args.dev, args.test)
    if args.out:
        write_text_atomic(args.out, doc)
    print(doc, end="")


if __name__ == "__main__":
    run(main)
