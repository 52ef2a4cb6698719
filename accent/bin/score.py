"""Score an accent experiment: per-accent accuracy, confusion matrix, embedding and training plots.

    python -m accent.bin.score --exp-dir exp/x --data dev=data/dev --data test=data/test \\
        --embed-data train=data/train [--checkpoint avg_10.pt] [--device auto]

The checkpoint is the experiment's (accent.training.checkpoint.experiment_checkpoint: avg_N.pt when
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
import logging
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from accent.data.kaldi_dir import write_text_atomic
from accent.utils.cli import run

log = logging.getLogger("accent.score")


def named_dir(value: str) -> Tuple[str, Path]:
    name, sep, path = value.partition("=")
    if not sep or not name or not path or "/" in name:
        raise argparse.ArgumentTypeError(f"expected NAME=DATA_DIR (e.g. dev=data/dev), got {value!r}")
    return name, Path(path)


def write_if_changed(path: Path, text: str) -> None:
    if not path.is_file() or path.read_text() != text:
        write_text_atomic(path, text)


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

    from accent.evaluation.decode import (
        decode, decode_dir, decode_outputs, decode_sources, read_embeddings, read_predictions, up_to_date,
        write_decode_dir,
    )
    from accent.evaluation.plots import embedding_plots, plot_train_curves, read_train_log
    from accent.evaluation.results_table import set_scores
    from accent.evaluation.scoring import summary_csv, summary_markdown

    from accent.training.checkpoint import experiment_checkpoint

    exp = args.exp_dir
    if args.checkpoint and not (exp / args.checkpoint).is_file() and Path(args.checkpoint).is_file():
        ckpt_path = Path(args.checkpoint)
    else:
        ckpt_path = experiment_checkpoint(exp, args.checkpoint)
    sets: Dict[str, Tuple[Path, Optional[int]]] = {n: (d, args.max_embed_utts) for n, d in args.embed_data}
    sets.update({n: (d, None) for n, d in args.data})  # a set given both ways is decoded whole
    title = f"{exp.name} ({ckpt_path.name})"

    model = ckpt = None
    for name, (data_dir, max_utts) in sets.items():
        out = decode_dir(exp, name, ckpt_path.name)
        labelled = (data_dir / "utt2accent").is_file()
        outputs = decode_outputs(out, labelled, (data_dir / "utt2spk").is_file())
        if up_to_date(outputs, decode_sources(ckpt_path, data_dir)):
            log.info("%s: up to date", out)
            continue
        if model is None:
            import torch

            from accent.training.model_io import load_model
            from accent.training.trainer import resolve_device
            if args.num_threads > 0:
                torch.set_num_threads(args.num_threads)
            device = resolve_device(args.device)
            model, ckpt = load_model(ckpt_path, device)
            if ckpt.get("task") != "accent":
                p.error(f"{ckpt_path} is a {ckpt.get('task')!r} checkpoint, not an accent model")
        log.info("decoding %s with %s -> %s", data_dir, ckpt_path, out)
        d = decode(model, ckpt, data_dir, device, max_utts, args.seed)
        write_decode_dir(out, name, d, title)
        if d.refs is not None:
            log.info("%s: accuracy %.2f%% over %d utterances", name,
                     100 * sum(r == h for r, h in zip(d.refs, d.hyps)) / len(d.refs), len(d.refs))

    scores = set_scores(exp, [n for n, _ in args.data], ckpt_path.name)
    if scores:
        doc = summary_markdown(scores, title, str(ckpt_path))
        write_if_changed(exp / "results.md", doc)
        write_if_changed(exp / "results.csv", summary_csv(scores))
        print(doc)
    if args.no_plots:
        return

    plots = exp / "plots"
    for name in sets:
        out = decode_dir(exp, name, ckpt_path.name)
        pngs: List[Path] = [plots / f"embeddings_{name}_{m}_{k}d.png" for m in ("tsne", "pca") for k in (2, 3)]
        if up_to_date(pngs, [out / "predictions.tsv", out / "embeddings.scp"]):
            continue
        pred = read_predictions(out / "predictions.tsv")
        if pred.refs is None:
            log.info("%s: no accent labels, no embedding plots", name)
            continue
        log.info("plotting the %s embeddings -> %s", name, plots)
        embedding_plots(read_embeddings(out / "embeddings.scp", pred.utts), pred.refs, plots, name, title,
                        args.max_plot_utts, args.seed)
    train_log = exp / "train_log.jsonl"
    if train_log.is_file() and not up_to_date([plots / "train_curves.png"], [train_log]):
        plot_train_curves(read_train_log(train_log), plots / "train_curves.png", exp.name)
    log.info("figures in %s", plots)


if __name__ == "__main__":
    run(main)
