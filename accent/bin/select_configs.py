"""Print the recipe configs that do (--with-asr) or do not (--without-asr) start from a stage-4
ASR checkpoint (methods asr_init, mtl, hybrid), one per line; the others are named on stderr.

    python -m accent.bin.select_configs --without-asr conf/hybrid/scratch.yaml conf/hybrid/mtl_l0.1.yaml

run.sh uses it to leave out the ASR-dependent experiments when the only LibriSpeech is the demo one.
"""

from __future__ import annotations

import argparse
import sys

from accent.utils.cli import run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--with-asr", action="store_true", help="print the configs that need an ASR checkpoint")
    which.add_argument("--without-asr", action="store_true", help="print the configs that need none")
    p.add_argument("configs", nargs="*")
    args = p.parse_args()

    from accent.training.config import load_config, needs_asr_checkpoint, resolve_config

    for config in args.configs:
        needs = needs_asr_checkpoint(resolve_config(load_config(config), where=config))
        if needs == args.with_asr:
            print(config)
        else:
            print(f"{config}: left out ({'needs' if needs else 'needs no'} ASR checkpoint)", file=sys.stderr)


if __name__ == "__main__":
    run(main)
