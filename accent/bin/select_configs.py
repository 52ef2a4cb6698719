"""Print the recipe configs that do (--with-asr) or do not (--without-asr) start from a stage-4
ASR checkpoint (methods asr_init, mtl, hybrid), or that train a CTC branch (--with-ctc: ASR models
and ``model.ctc_weight > 0``), one per line; the others are named on stderr.

    python -m accent.bin.select_configs --without-asr conf/hybrid/scratch.yaml conf/hybrid/mtl_l0.1.yaml

run.sh uses it to leave out the ASR-dependent experiments when the only LibriSpeech is the demo one,
and to skip stage 3 (CTC units) when no config needs them.
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
    which.add_argument("--with-ctc", action="store_true", help="print the configs that train on CTC units")
    p.add_argument("configs", nargs="*")
    args = p.parse_args()

    from accent.training.config import load_config, needs_asr_checkpoint, resolve_config

    for config in args.configs:
        cfg = resolve_config(load_config(config), where=config)
        if args.with_ctc:
            needs = cfg["task"] == "asr" or float(cfg["model"].get("ctc_weight") or 0) > 0
            keep, what = needs, "CTC units"
        else:
            needs = needs_asr_checkpoint(cfg)
            keep, what = needs == args.with_asr, "ASR checkpoint"
        if keep:
            print(config)
        else:
            print(f"{config}: left out ({'needs' if needs else 'needs no'} {what})", file=sys.stderr)


if __name__ == "__main__":
    run(main)
