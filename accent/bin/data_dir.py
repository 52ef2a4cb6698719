"""Data-directory tools behind utils/{validate_data_dir,fix_data_dir,split_data,combine_data,perturb_data_dir_speed}.sh."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from accent.data.kaldi_dir import combine_data_dirs, fix_data_dir, split_data_dir, validate_data_dir
from accent.data.perturb import speed_perturb_data_dir
from accent.utils.cli import run

log = logging.getLogger("accent")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="check files, sorting and consistency")
    v.add_argument("--require", default="wav.scp,utt2spk,spk2utt", help="comma-separated files that must exist")
    v.add_argument("data_dir", type=Path)
    f = sub.add_parser("fix", help="keep utterances present in every file, sort, rebuild spk2utt")
    f.add_argument("data_dir", type=Path)
    s = sub.add_parser("split", help="split by speaker into data_dir/split<N>/{1..N}")
    s.add_argument("data_dir", type=Path)
    s.add_argument("num_splits", type=int)
    c = sub.add_parser("combine", help="union of data dirs (files present in every source)")
    c.add_argument("dst_dir", type=Path)
    c.add_argument("src_dirs", type=Path, nargs="+")
    sp = sub.add_parser("perturb-speed", help="copies at other speeds (sox), IDs prefixed sp<f>-")
    sp.add_argument("--factors", default="0.9 1.0 1.1", help="speed factors, space- or comma-separated")
    sp.add_argument("src_dir", type=Path)
    sp.add_argument("dst_dir", type=Path)
    args = p.parse_args()
    if args.command == "validate":
        n = validate_data_dir(args.data_dir, require=[x for x in args.require.split(",") if x])
        log.info("%s: valid, %d utterances", args.data_dir, n)
    elif args.command == "fix":
        n = fix_data_dir(args.data_dir)
        log.info("%s: %d utterances kept", args.data_dir, n)
    elif args.command == "split":
        split_data_dir(args.data_dir, args.num_splits)
    elif args.command == "combine":
        n = combine_data_dirs(args.dst_dir, args.src_dirs)
        log.info("%s: %d utterances from %s", args.dst_dir, n, " ".join(map(str, args.src_dirs)))
    else:
        try:
            factors = [float(f) for f in args.factors.replace(",", " ").split()]
        except ValueError:
            p.error(f"--factors: not numbers: {args.factors!r}")
        n = speed_perturb_data_dir(args.src_dir, args.dst_dir, factors)
        log.info("%s: %d utterances at speeds %s", args.dst_dir, n, " ".join(f"{f:g}" for f in factors))


if __name__ == "__main__":
    run(main)
