"""Collect scored experiments into one Markdown table like the AESRC papers' Table 2.

    python -m accent.bin.collect_results --out RESULTS.md exp/a exp/b ...

One row per experiment (name, config, per-accent dev accuracy, dev accuracy and macro average,
per-speaker dev (and test) accuracy, the checkpoint scored and the commit that trained it), from the
decode directories that ``accent.bin.score`` wrote.  Without --out the table is printed.

With --out, the experiments already in that file (listed in its last line, a comment) keep their
rows: the table is the union, recomputed from every experiment's decode directories, so scoring
some configs in a later stage-6 call does not drop the others.  Experiment directories that no
longer exist are dropped.
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
    p.add_argument("--checkpoint", default=None,
                   help="the checkpoint that was scored (default: each experiment's, avg_N.pt or best.pt)")
    p.add_argument("--title", default="Accent recognition results")
    args = p.parse_args()

    from accent.evaluation.results_table import listed_experiments, load_experiment, results_document

    dirs = list(args.exp_dirs)
    if args.out and args.out.is_file():
        dirs = [d for d in listed_experiments(args.out) if d.is_dir() and d not in dirs] + dirs
    exps = [load_experiment(d, (args.dev, args.test), args.checkpoint) for d in dirs]
    doc = results_document(exps, args.title, args.dev, args.test, dirs)
    if args.out:
        write_text_atomic(args.out, doc)
    print(doc, end="")


if __name__ == "__main__":
    run(main)
