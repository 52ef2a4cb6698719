"""Data-directory tools behind utils/validate_data_dir.sh, fix_data_dir.sh and split_data.sh."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from accent.data.kaldi_dir import fix_data_dir, split_data_dir, validate_data_dir
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
    args = p.parse_args()
    if args.command == "validate":
        n = validate_data_dir(args.data_dir, require=[x for x in args.require.split(",") if x])
        log.info("%s: valid, %d utterances", args.data_dir, n)
    elif args.command == "fix":
        n = fix_data_dir(args.data_dir)
        log.info("%s: %d utterances kept", args.data_dir, n)
    else:
        split_data_dir(args.data_dir, args.num_splits)


if __name__ == "__main__":
    run(main)
