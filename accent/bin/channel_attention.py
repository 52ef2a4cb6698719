"""Channel-attention analysis (hybrid paper Fig. 7): the mean concat_ca attention weight of every
channel of a hybrid over a data set, and the ratio of the summed weights on the reference half to
those on the trainable half.

    python -m accent.bin.channel_attention --checkpoint exp/hybrid_hybrid_concat_ca_l0.1/best.pt \\
        --data data/dev --out-dir exp/analysis/channel_attention

Writes out-dir/{attention.json,summary.md,weights.png} and prints the summary.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as accent.bin.train: before torch is imported

import argparse  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

from accent.analysis.report import write_report  # noqa: E402
from accent.analysis.channel_attention import attention_weights, plot_weights, summarize, summary_table  # noqa: E402
from accent.utils.cli import run  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", type=Path, required=True, help="a concat_ca hybrid (best.pt)")
    p.add_argument("--data", type=Path, required=True, help="data dir with feats.scp (e.g. data/dev)")
    p.add_argument("--out-dir", type=Path, required=True)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    try:
        att = attention_weights(args.checkpoint, args.data, args.device)
    except ValueError as e:
        raise SystemExit(f"accent.bin.channel_attention: error: {e}")
    summary = summarize(att["weights"], att["ref_dim"])
    summary.update({"checkpoint": str(args.checkpoint), "data": str(args.data)})
    table = summary_table(summary, str(args.checkpoint), str(args.data))
    write_report(args.out_dir, {"attention.json": json.dumps(summary, indent=2) + "\n", "summary.md": table})
    plot_weights(summary, args.out_dir / "weights.png")
    print(table, end="")


if __name__ == "__main__":
    run(main)
