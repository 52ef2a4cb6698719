"""Stage 1: L2-ARCTIC (L1 as the accent) -> data/all and the speaker lists of its folds (through lhotse)."""

from __future__ import annotations

import argparse
from pathlib import Path

from accent.data.l2arctic import prepare_l2arctic
from accent.utils.cli import run


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--corpus-dir", type=Path, required=True, help="L2-ARCTIC root (holds ABA/, ..., TLV/)")
    p.add_argument("--out-dir", type=Path, required=True, help="where all/ and local/fold<k>/ are written")
    p.add_argument("--manifest-dir", type=Path, required=True, help="where lhotse's manifests are written")
    p.add_argument("--sample-rate", type=int, default=16000)
    p.add_argument("--skip-bad", action="store_true", help="leave bad files out (listed in all/bad_utts) instead of stopping")
    p.add_argument("--nj", type=int, default=4, help="parallel header reads")
    return p


def main() -> None:
    a = get_parser().parse_args()
    prepare_l2arctic(a.corpus_dir, a.out_dir, a.manifest_dir, a.sample_rate, a.skip_bad, a.nj)


if __name__ == "__main__":
    run(main)
