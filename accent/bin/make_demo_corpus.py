"""Generate the offline demo corpora: AESRC2020 and/or LibriSpeech, Common Voice, L2-ARCTIC.

    python -m accent.bin.make_demo_corpus --out downloads [--seed 0] [--what both]

Writes ``<out>/aesrc2020`` and ``<out>/LibriSpeech`` (``--what both``), ``<out>/cv-corpus-demo``
(``commonvoice``) or ``<out>/l2arctic`` (``l2arctic``) in the layout of the real corpora.  A rerun
with the same settings is a no-op.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import fields
from typing import Optional, Sequence

from accent.demo.commonvoice import make_demo_commonvoice
from accent.demo.corpus import DemoConfig, make_demo_aesrc, make_demo_librispeech
from accent.demo.l2arctic import make_demo_l2arctic
from accent.demo.espeak import check_espeak


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", required=True, help="directory that receives aesrc2020/ and LibriSpeech/")
    parser.add_argument("--what", choices=("aesrc", "librispeech", "both", "commonvoice", "l2arctic"), default="both",
                        help="which corpus to generate")
    for f in fields(DemoConfig):
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=int, default=f.default, dest=f.name)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = DemoConfig(**{f.name: getattr(args, f.name) for f in fields(DemoConfig)})
    try:
        cfg.validate()
        check_espeak()
        if args.what in ("aesrc", "both"):
            make_demo_aesrc(args.out, cfg)
        if args.what in ("librispeech", "both"):
            make_demo_librispeech(args.out, cfg)
        if args.what == "commonvoice":
            make_demo_commonvoice(args.out, cfg)
        if args.what == "l2arctic":
            make_demo_l2arctic(args.out, cfg)
    except (ValueError, RuntimeError) as exc:
        logging.getLogger("make_demo_corpus").error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
