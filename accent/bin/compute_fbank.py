"""Stage 2 job: FBank features of one (split) data directory."""

from __future__ import annotations

import argparse
from pathlib import Path

from accent.features.fbank import FbankConfig, compute_fbank_job
from accent.utils.cli import run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--config", type=Path, help="YAML of FbankConfig options (default: 40 bins, 25/10 ms)")
    p.add_argument("--write-config", type=Path, metavar="FILE",
                   help="only write the resolved config (every option, defaults included) to FILE")
    p.add_argument("data_dir", type=Path, nargs="?")
    p.add_argument("out_prefix", type=Path, nargs="?",
                   help="writes <prefix>.ark, <prefix>.scp, <prefix>.utt2num_frames")
    args = p.parse_args()
    config = FbankConfig.from_yaml(args.config) if args.config else FbankConfig()
    if args.write_config:
        config.save(args.write_config)
        return
    if args.data_dir is None or args.out_prefix is None:
        p.error("data_dir and out_prefix are required")
    import torch

    torch.set_num_threads(1)  # one thread per job, as Kaldi's compute-fbank-feats: the nj jobs share the cores
    compute_fbank_job(args.data_dir, args.out_prefix, config)


if __name__ == "__main__":
    run(main)
