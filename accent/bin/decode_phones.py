"""Phone strings of a data dir's audio by open phone-loop recognition (pocketsphinx US-English model)
-> <data-dir>/text.phone_rec, the input of the phonotactic accent classifier."""

from __future__ import annotations

import argparse
from pathlib import Path

from accent.utils.cli import run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("data_dir", type=Path, help="data dir with wav.scp")
    p.add_argument("--nj", type=int, default=1, help="recogniser processes")
    args = p.parse_args()
    from accent.phonotactic.experiment import decode_phones

    decode_phones(args.data_dir, args.nj)


if __name__ == "__main__":
    run(main)
