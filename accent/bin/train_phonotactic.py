"""Train the phonotactic accent classifier (phone 1-3 grams of the text.phone_rec_lw<W> decodings,
logistic regression with C chosen by speaker-grouped cross-validation) and write its decode
directories.

    python -m accent.bin.train_phonotactic --train-data data/train --exp-dir exp/phonotactic \\
        --data dev=data/dev --data test=data/test
"""

from __future__ import annotations

import argparse
from pathlib import Path

from accent.bin.score import named_dir
from accent.phonotactic.classifier import RATE_SCALE
from accent.phonotactic.experiment import LANGUAGE_WEIGHTS
from accent.utils.cli import run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train-data", type=Path, required=True, help="data dir with text.phone_rec_lw<W>, utt2accent, utt2spk")
    p.add_argument("--exp-dir", type=Path, required=True)
    p.add_argument("--data", type=named_dir, action="append", default=[], metavar="NAME=DIR", help="sets to score")
    p.add_argument("--language-weights", type=float, nargs="+", default=list(LANGUAGE_WEIGHTS),
                   help="the decodings to read (default: %(default)s)")
    p.add_argument("--rate-scale", type=float, default=RATE_SCALE,
                   help="weight of the speaking-rate columns (recognised phones per second of utt2dur; 0: none)")
    args = p.parse_args()
    from accent.phonotactic.experiment import train_phonotactic

    train_phonotactic(args.train_data, args.exp_dir, dict(args.data), args.language_weights, args.rate_scale)


if __name__ == "__main__":
    run(main)
