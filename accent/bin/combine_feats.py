"""Stage 2: gather the jobs' scp files into data_dir/feats.scp and utt2num_frames."""

from __future__ import annotations

import argparse
from pathlib import Path

from accent.features.fbank import combine_feats
from accent.utils.cli import run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("data_dir", type=Path)
    p.add_argument("prefixes", type=Path, nargs="+", help="job output prefixes (without .scp)")
    args = p.parse_args()
    combine_feats(args.data_dir, args.prefixes)


if __name__ == "__main__":
    run(main)
