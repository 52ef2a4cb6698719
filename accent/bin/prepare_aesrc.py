"""Stage 1: an AESRC2020-layout corpus → data/{train,dev[,test]}."""

from __future__ import annotations

import argparse
from pathlib import Path

from accent.data.aesrc import prepare_aesrc
from accent.utils.cli import run


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--corpus-dir", type=Path, required=True, help="AESRC2020 root (accent folders, or data/ of Datatang-English)")
    p.add_argument("--dev-spk-list", type=Path, required=True, help="'<ACCENT> <SPEAKER>' lines: the dev (cv) speakers")
    p.add_argument("--out-dir", type=Path, required=True, help="where train/, dev/ and test/ are written")
    p.add_argument("--accents", default="", help="comma-separated accent codes to keep (default: all found)")
    p.add_argument("--sample-rate", type=int, default=16000)
    p.add_argument("--test-dir", type=Path, help="flat folder of AESRC2020-TESTSET-NNNNN.wav")
    p.add_argument("--test-labels", type=Path, help="'<utt> <ACCENT>' lines for the test set")
    p.add_argument("--test-spk-list", type=Path,
                   help="speakers of the corpus tree held out as the (labelled) test set, '<ACC> <SPK>' or "
                        "'<ACC>-<SPK>' lines (e.g. lists/test_spk.txt of SAA-dev); instead of --test-dir")
    p.add_argument("--skip-bad", action="store_true", help="leave bad files out (listed in <set>/bad_utts) instead of stopping")
    p.add_argument("--convert-audio", action="store_true", help="resample/down-mix files that are not mono at --sample-rate, with sox")
    p.add_argument("--nj", type=int, default=4, help="parallel header reads")
    return p


def main() -> None:
    args = get_parser().parse_args()
    prepare_aesrc(
        root=args.corpus_dir,
        out_dir=args.out_dir,
        dev_spk_list=args.dev_spk_list,
        sample_rate=args.sample_rate,
        accents=[a for a in args.accents.split(",") if a] or None,
        test_dir=args.test_dir,
        test_labels=args.test_labels,
        test_spk_list=args.test_spk_list,
        skip_bad=args.skip_bad,
        convert_audio=args.convert_audio,
        num_jobs=args.nj,
    )


if __name__ == "__main__":
    run(main)
