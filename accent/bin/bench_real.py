"""Accent models on a real corpus: the recipe's stages over seeds, next to the pooled log-mel + LR floor.

    cd egs/aesrc
    python ../../../shared/saa_dev/make_layout.py --out /tmp/saa_dev          # SAA-dev, when you have it
    python -m accent.bin.bench_real --root /tmp/saa_dev/seg_16k --configs conf/real/ecapa_c128.yaml --seeds 0 1 2

Any AESRC-layout root with lists/{train,test}_spk.txt works.  Not part of CI (real data is not
shipped); the table goes to stdout and <work-dir>/bench_real.{md,json}.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from accent.utils.cli import run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=Path, required=True, help="AESRC-layout root with lists/{train,test}_spk.txt")
    p.add_argument("--configs", nargs="+", required=True, help="accent configs (paths relative to egs/aesrc)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="one dev split and one training seed each")
    p.add_argument("--work-dir", type=Path, default=Path("exp/bench_real"), help="one recipe directory per seed here")
    p.add_argument("--dev-per-accent", type=int, default=6, help="dev speakers per accent, out of the train speakers")
    p.add_argument("--jobs", type=int, default=1, help="seeds run at once (each training job uses --train-threads)")
    p.add_argument("--run-opts", default="", help="more run.sh options, e.g. '--fbank-config conf/fbank_real.yaml'")
    p.add_argument("--train-opts", default="", help="more accent.bin.train options, e.g. '--override train.epochs=4'")
    p.add_argument("--no-refit", dest="refit", action="store_false",
                   help="leave out the final systems trained on all train speakers (run.sh --refit false)")
    args = p.parse_args()
    if not args.root.is_dir():
        print(f"bench_real: {args.root} does not exist; nothing measured (the benchmark needs a real corpus, "
              "e.g. the output of ../shared/saa_dev/make_layout.py)", file=sys.stderr)
        sys.exit(2)
    from accent.evaluation.real_benchmark import benchmark, default_egs

    print(benchmark(args.root, args.configs, args.seeds, args.work_dir.resolve(), default_egs(),
                    args.dev_per_accent, args.jobs, shlex.split(args.run_opts), args.train_opts, args.refit))


if __name__ == "__main__":
    run(main)
