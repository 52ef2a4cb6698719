"""Degraded phone transcripts for the robustness test (hybrid paper Sec. 4.4): a copy of a data dir
whose text.phn has each phone replaced by its broad class with probability theta (or, for
'random', a random phone sequence of the same length), and the lang dir of the degraded units.

    python -m accent.bin.degrade_transcripts --classes local/broad_phone_classes.txt --variant 0.5 \\
        --seed 0 data/train data/train_theta0.5 data/lang_phn_theta0.5
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from accent.analysis.degrade import (
    load_broad_classes, parse_variant, write_degraded_data_dir, write_degraded_lang_dir,
)
from accent.utils.cli import run

log = logging.getLogger("accent.bin.degrade_transcripts")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--classes", type=Path, default=Path("local/broad_phone_classes.txt"),
                   help="'<PHONE> <CLASS>' map of the 39 phones")
    p.add_argument("--variant", required=True, help="theta in [0, 1], or 'random'")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("src", type=Path, help="data dir with text.phn (e.g. data/train)")
    p.add_argument("dst", type=Path, help="output data dir (replaced if it exists)")
    p.add_argument("lang_dir", type=Path, help="output lang dir: units.txt of blank + phones + class tokens")
    args = p.parse_args()
    try:
        variant = parse_variant(args.variant)
    except ValueError as e:
        p.error(str(e))
    classes = load_broad_classes(args.classes)
    s = write_degraded_data_dir(args.src, args.dst, variant, classes, seed=args.seed)
    write_degraded_lang_dir(args.lang_dir, classes)
    log.info("%s: %d utterances, %d of %d phones changed (%.1f%%); units in %s", args.dst, s.utts, s.changed,
             s.phones, 100 * s.changed / max(s.phones, 1), args.lang_dir / "units.txt")


if __name__ == "__main__":
    run(main)
