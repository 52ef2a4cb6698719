"""Speaker probe (hybrid paper Sec. 4.3): a linear speaker classifier trained on the frozen
embeddings of each model, on an utterance-level split of a data dir where every speaker is on both
sides; held-out speaker accuracy per epoch, the models side by side.

    python -m accent.bin.speaker_probe --data data/train --out-dir exp/analysis/speaker_probe \\
        scratch=exp/hybrid_scratch/best.pt mtl=exp/hybrid_mtl_l0.1/best.pt

Writes out-dir/{probe.json,table.md,curves.png} and prints the table.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as accent.bin.train: before torch is imported

import argparse  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

from accent.analysis.report import write_report  # noqa: E402
from accent.analysis.speaker_probe import parse_model_specs, plot_curves, probe_table, speaker_probe  # noqa: E402
from accent.utils.cli import run  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="data dir with feats.scp and utt2spk (e.g. data/train)")
    p.add_argument("--out-dir", type=Path, required=True)
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--valid-fraction", type=float, default=0.2, help="held-out share of each speaker's utterances")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("models", nargs="+", help="name=checkpoint (e.g. mtl=exp/hybrid_mtl_l0.1/best.pt)")
    args = p.parse_args()
    try:
        models = parse_model_specs(args.models)
    except ValueError as e:
        p.error(str(e))
    try:
        result = speaker_probe(models, args.data, epochs=args.epochs, valid_fraction=args.valid_fraction,
                               seed=args.seed, lr=args.lr, batch_size=args.batch_size, device=args.device)
    except ValueError as e:
        raise SystemExit(f"accent.bin.speaker_probe: error: {e}")
    table = probe_table(result)
    write_report(args.out_dir, {"probe.json": json.dumps(result, indent=2) + "\n", "table.md": table})
    plot_curves(result, args.out_dir / "curves.png")
    print(table, end="")


if __name__ == "__main__":
    run(main)
