"""Phone strings of a data dir's audio by open phone-loop recognition (pocketsphinx US-English model),
one decoding per language weight -> <data-dir>/text.phone_rec_lw<W>, the input of the phonotactic
accent classifier."""

from __future__ import annotations

import argparse
from pathlib import Path

from accent.phonotactic.experiment import LANGUAGE_WEIGHTS
from accent.utils.cli import run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("data_dir", type=Path, help="data dir with wav.scp")
    p.add_argument("--nj", type=int, default=1, help="recogniser processes")
    p.add_argument("--language-weights", type=float, nargs="+", default=list(LANGUAGE_WEIGHTS),
                   help="phone-bigram weights, one decoding each (default: %(default)s)")
    args = p.parse_args()
    from accent.phonotactic.experiment import decode_phones

    decode_phones(args.data_dir, args.nj, args.language_weights)


if __name__ == "__main__":
    run(main)
