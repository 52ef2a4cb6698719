"""Stage 1: Common Voice English accents (the CommonAccent setup) -> data/{train,dev,test}."""

from __future__ import annotations

import argparse
from pathlib import Path

from accent.data.commonvoice import prepare_commonaccent
from accent.utils.cli import run


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--lang-dir", type=Path, required=True, help="a release's language folder: cv-corpus-*/en")
    p.add_argument("--accent-map", type=Path, required=True, help="'<class> TAB <label>' lines: accent label -> class")
    p.add_argument("--out-dir", type=Path, required=True, help="where train/, dev/, test/ and local/ are written")
    p.add_argument("--audio-dir", type=Path, required=True, help="where the clips are decoded to, as clips_<rate>/*.flac")
    p.add_argument("--sample-rate", type=int, default=16000)
    p.add_argument("--seed", type=int, default=0, help="the speaker order of the dev/test split")
    p.add_argument("--max-utts-per-speaker", type=int, default=0, help="keep at most N clips of a speaker (0: all)")
    p.add_argument("--skip-bad", action="store_true", help="leave bad files out (listed in <set>/bad_utts) instead of stopping")
    p.add_argument("--nj", type=int, default=4, help="parallel decoding processes")
    return p


def main() -> None:
    a = get_parser().parse_args()
    prepare_commonaccent(a.lang_dir, a.out_dir, a.accent_map, a.audio_dir, a.sample_rate, a.seed,
                         a.max_utts_per_speaker, a.skip_bad, a.nj)


if __name__ == "__main__":
    run(main)
