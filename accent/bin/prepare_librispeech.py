"""Stage 1: LibriSpeech parts → Kaldi data directories (through lhotse's recipe)."""

from __future__ import annotations

import argparse
from pathlib import Path

from accent.data.librispeech import prepare_librispeech_dirs
from accent.utils.cli import run


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--corpus-dir", type=Path, required=True, help="LibriSpeech root (holds train-clean-100/, dev-clean/, ...)")
    p.add_argument("--out-dir", type=Path, required=True)
    p.add_argument("--manifest-dir", type=Path, required=True, help="where lhotse's manifests are written")
    p.add_argument(
        "--parts",
        nargs="+",
        required=True,
        metavar="PART=SET",
        help="LibriSpeech part and the data dir it becomes, e.g. train-clean-100=libri_train dev-clean=libri_dev "
        "(repeat a SET to combine parts, e.g. train-clean-360=libri_train)",
    )
    p.add_argument("--sample-rate", type=int, default=16000)
    p.add_argument("--skip-bad", action="store_true", help="leave bad files out (listed in <set>/bad_utts) instead of stopping")
    p.add_argument("--convert-audio", action="store_true", help="resample/down-mix files that are not mono at --sample-rate, with sox")
    p.add_argument("--nj", type=int, default=4)
    return p


def main() -> None:
    args = get_parser().parse_args()
    parts = {}
    for item in args.parts:
        part, sep, name = item.partition("=")
        if not sep or not part or not name:
            raise SystemExit(f"--parts: expected PART=SET, got {item!r}")
        parts[part] = name
    prepare_librispeech_dirs(
        args.corpus_dir, args.out_dir, parts, args.manifest_dir, args.sample_rate, args.skip_bad, args.nj,
        convert_audio=args.convert_audio,
    )


if __name__ == "__main__":
    run(main)
