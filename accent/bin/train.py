"""Train an ASR (phone CTC) or accent recognition model from a recipe config.

    python -m accent.bin.train --config conf/hybrid/mtl_l0.2.yaml --train-data data/train \\
        --dev-data data/dev --exp-dir exp/hybrid_mtl_l0.2 [--lang-dir data/lang_phn] \\
        [--cmvn data/train/cmvn.ark] [--asr-checkpoint exp/asr_jasper/best.pt] [--resume] \\
        [--device auto|cpu|cuda] [--seed N] [--override optim.lr=5e-4 ...]

Writes exp-dir/{config.yaml,epoch_N.pt,best.pt,last.pt,train_log.jsonl,results.json,.done}.

Started by torchrun or srun (``python -m accent.bin.launch --ngpu N [--num-nodes M] -- python -m
accent.bin.train ...``), it trains data-parallel: each process joins the process group, rank 0
writes the files and logs progress, the other ranks log warnings only (prefixed with their rank).
"""

from __future__ import annotations

import os

# Idle OpenMP threads sleep instead of spinning: on a shared or busy CPU, spinning threads of
# concurrent jobs starve each other (measured here: 2 spinning threads under load were up to 10x
# slower than 1).  Must be set before torch is imported; an explicit setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import logging

from accent.jobs.lock import DirectoryBusy
from accent.training import ConfigError, Trainer, deep_merge, load_config, parse_overrides, resolve_config
from accent.training.distributed import DistInfo, DistributedError, cleanup, init_distributed
from accent.utils.cli import run

log = logging.getLogger("accent.train")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--config", required=True, help="experiment YAML (may inherit with 'base:')")
    p.add_argument("--train-data", required=True, help="training data dir (feats.scp, utt2accent/text.phn)")
    p.add_argument("--dev-data", required=True, help="dev data dir")
    p.add_argument("--exp-dir", required=True, help="output directory")
    p.add_argument("--lang-dir", default=None,
                   help="units for CTC (default: the config's lang_dir, else <train-data>/../lang_phn)")
    p.add_argument("--cmvn", default=None, help="global CMVN stats (default: <train-data>/cmvn.ark)")
    p.add_argument("--asr-checkpoint", default=None,
                   help="ASR checkpoint for methods asr_init/mtl/hybrid (overrides the config's asr_checkpoint)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the newest checkpoint in --exp-dir (start afresh if there is none)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--seed", type=int, default=None, help="overrides the config's seed")
    p.add_argument("--num-threads", type=int, default=0,
                   help="torch intra-op threads (0: torch's default, one per core)")
    p.add_argument("--override", nargs="*", default=[], metavar="KEY=VALUE",
                   help="config overrides, e.g. train.epochs=5 'model.head={name: softmax}'")
    return p


def _quiet_other_ranks(info: DistInfo) -> None:
    """Ranks > 0 log warnings and errors only, with their rank in front."""
    if info.is_main:
        return
    root = logging.getLogger()
    root.setLevel(logging.WARNING)
    for handler in root.handlers:
        handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s [%(name)s] [rank {info.rank}] %(message)s",
                                               datefmt="%Y-%m-%d %H:%M:%S"))


def main() -> None:
    args = build_parser().parse_args()
    if args.num_threads > 0:
        import torch

        torch.set_num_threads(args.num_threads)
    try:
        cfg = load_config(args.config)
        cfg = deep_merge(cfg, parse_overrides(args.override))
        if args.seed is not None:
            cfg["seed"] = args.seed
        cfg = resolve_config(cfg, where=args.config)
        info = init_distributed(args.device)
    except (ConfigError, DistributedError) as e:
        raise SystemExit(f"accent.bin.train: error: {e}")
    _quiet_other_ranks(info)
    if info.distributed:
        log.info("rank %d of %d (launcher %s, %s backend) on %s", info.rank, info.world_size, info.launcher,
                 info.backend, info.device)
    try:
        trainer = Trainer(cfg, args.exp_dir, args.train_data, args.dev_data, lang_dir=args.lang_dir,
                          cmvn=args.cmvn, asr_checkpoint=args.asr_checkpoint, device=str(info.device),
                          resume=args.resume, rank=info.rank, world_size=info.world_size)
        results = trainer.run()
    except (ConfigError, DirectoryBusy) as e:
        raise SystemExit(f"accent.bin.train: error: {e}")
    finally:
        cleanup()
    if not info.is_main:
        return
    value = results["best_value"]
    shown = f"{100 * value:.2f}%" if value is not None else "n/a"
    print(f"{args.exp_dir}: best {results['metric']} {shown} at epoch {results['best_epoch']}", flush=True)


if __name__ == "__main__":
    run(main)
