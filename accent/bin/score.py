"""Score an accent experiment: per-accent accuracy, confusion matrix, embedding and training plots.

    python -m accent.bin.score --exp-dir exp/x --data dev=data/dev --data test=data/test \\
        --embed-data train=data/train [--checkpoint avg_10.pt] [--device auto]

The checkpoint is the experiment's (accent.models.checkpoint.experiment_checkpoint: avg_N.pt when
the config averages the last N epochs, else best.pt; the one accent-id and export load) unless
--checkpoint names another.  Writes exp-dir/decode_<set>/{predictions.tsv (log-posteriors),
embeddings.ark/scp, utt2spk, results.md, results.csv, confusion.txt, confusion.png} for every --data
and --embed-data set (an --embed-data set is a seeded subsample of at most --max-embed-utts
utterances; decode_<set>_<stem> for a checkpoint other than best.pt), exp-dir/results.{md,csv} over
the --data sets (per utterance and per speaker: one decision per utt2spk speaker from its summed
log-posteriors), and exp-dir/plots/{embeddings_<set>_{tsne,pca}_{2d,3d}.png (a seeded subsample
of at most --max-plot-utts utterances), train_curves.png}.  Outputs that exist
and are newer than their checkpoint and data are kept: a rerun does nothing.  A set without
utt2accent gets predictions and embeddings only.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Tuple

from accent.utils.cli import run


def named_dir(value: str) -> Tuple[str, Path]:
    name, sep, path = value.partition("=")
    if not sep or not name or not path or "/" in name:
        raise argparse.ArgumentTypeError(f"expected NAME=DATA_DIR (e.g. dev=data/dev), got {value!r}")
    return name, Path(path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp-dir", type=Path, required=True)
    p.add_argument("--data", type=named_dir, action="append", required=True, metavar="NAME=DIR",
                   help="a set to score (repeatable): dev=data/dev")
    p.add_argument("--embed-data", type=named_dir, action="append", default=[], metavar="NAME=DIR",
                   help="a set whose embeddings are only plotted (repeatable): train=data/train")
    p.add_argument("--checkpoint", default=None,
                   help="file in --exp-dir, or a path (default: avg_N.pt if the config averages, else best.pt)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument("--num-threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    p.add_argument("--max-embed-utts", type=int, default=2000,
                   help="utterances of an --embed-data set to decode")
    p.add_argument("--max-plot-utts", type=int, default=500,
                   help="utterances of a set in its embedding plots (t-SNE's cost grows with them)")
    p.add_argument("--seed", type=int, default=0, help="of the subsamples and t-SNE")
    p.add_argument("--no-plots", action="store_true", help="scores only")
    args = p.parse_args()

    from accent.evaluation.score_experiment import NotAnAccentModel, score_experiment

    try:
        doc = score_experiment(args.exp_dir, dict(args.data), dict(args.embed_data), args.checkpoint, args.device,
                               args.num_threads, args.max_embed_utts, args.max_plot_utts, args.seed,
                               plots=not args.no_plots)
    except NotAnAccentModel as e:
        p.error(str(e))
    if doc:
        print(doc)


if __name__ == "__main__":
    run(main)
