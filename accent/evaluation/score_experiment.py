"""Scoring of an accent experiment (stage 6): decode its sets, write scores, tables and plots.

:func:`score_experiment` is what ``python -m accent.bin.score`` runs; see that entry point for
the files it writes.  Outputs newer than their checkpoint and data are kept: a rerun does nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

from accent.data.kaldi_dir import write_text_atomic
from accent.models.checkpoint import experiment_checkpoint

from .predictions import (
    decode, decode_dir, decode_outputs, decode_sources, read_embeddings, read_predictions, up_to_date,
    write_decode_dir,
)
from .results_table import set_scores
from .scoring import score, summary_csv, summary_markdown

log = logging.getLogger(__name__)


class NotAnAccentModel(ValueError):
    """The checkpoint is not an accent classifier (an ASR one, say)."""


def write_if_changed(path: Path, text: str) -> None:
    if not path.is_file() or path.read_text() != text:
        write_text_atomic(path, text)


def score_experiment(exp: Path, data: Mapping[str, Path], embed_data: Mapping[str, Path] = None,
                     checkpoint: Optional[str] = None, device: str = "auto", num_threads: int = 0,
                     max_embed_utts: int = 2000, max_plot_utts: int = 500, seed: int = 0,
                     plots: bool = True) -> Optional[str]:
    """Score ``exp`` on the ``data`` sets (name -> data dir), plot ``embed_data`` sets' embeddings
    (a seeded subsample of ``max_embed_utts``); returns ``results.md`` (None without labels).
    ``checkpoint``: a file in ``exp`` or a path (default: the experiment's checkpoint)."""
    exp = Path(exp)
    if checkpoint and not (exp / checkpoint).is_file() and Path(checkpoint).is_file():
        ckpt_path = Path(checkpoint)
    else:
        ckpt_path = experiment_checkpoint(exp, checkpoint)
    sets: Dict[str, Tuple[Path, Optional[int]]] = {n: (Path(d), max_embed_utts) for n, d in (embed_data or {}).items()}
    sets.update({n: (Path(d), None) for n, d in data.items()})  # a set given both ways is decoded whole
    title = f"{exp.name} ({ckpt_path.name})"

    model = ckpt = dev = None
    for name, (data_dir, max_utts) in sets.items():
        out = decode_dir(exp, name, ckpt_path.name)
        labelled = (data_dir / "utt2accent").is_file()
        outputs = decode_outputs(out, labelled, (data_dir / "utt2spk").is_file())
        if up_to_date(outputs, decode_sources(ckpt_path, data_dir)):
            log.info("%s: up to date", out)
            continue
        if model is None:
            model, ckpt, dev = _load(ckpt_path, device, num_threads)
        log.info("decoding %s with %s -> %s", data_dir, ckpt_path, out)
        d = decode(model, ckpt, data_dir, dev, max_utts, seed)
        write_decode_dir(out, name, d, title)
        if d.refs is not None:
            log.info("%s: accuracy %.2f%% over %d utterances", name, 100 * score(d.refs, d.hyps).accuracy, len(d.refs))

    scores = set_scores(exp, list(data), ckpt_path.name)
    doc = None
    if scores:
        doc = summary_markdown(scores, title, str(ckpt_path))
        write_if_changed(exp / "results.md", doc)
        write_if_changed(exp / "results.csv", summary_csv(scores))
    if plots:
        plot_experiment(exp, list(sets), ckpt_path.name, title, max_plot_utts, seed)
    return doc


def _load(ckpt_path: Path, device: str, num_threads: int):
    import torch

    from accent.utils.device import resolve_device
    from accent.models.build import load_model

    if num_threads > 0:
        torch.set_num_threads(num_threads)
    dev = resolve_device(device)
    model, ckpt = load_model(ckpt_path, dev)
    if ckpt.get("task") != "accent":
        raise NotAnAccentModel(f"{ckpt_path} is a {ckpt.get('task')!r} checkpoint, not an accent model")
    return model, ckpt, dev


def plot_experiment(exp: Path, sets: List[str], checkpoint_name: str, title: str, max_plot_utts: int = 500,
                    seed: int = 0) -> None:
    """t-SNE/PCA plots of the decoded sets' embeddings and the training curves, in ``exp/plots``."""
    from .plots import embedding_plots, plot_train_curves, read_train_log

    plots = exp / "plots"
    for name in sets:
        out = decode_dir(exp, name, checkpoint_name)
        pngs: List[Path] = [plots / f"embeddings_{name}_{m}_{k}d.png" for m in ("tsne", "pca") for k in (2, 3)]
        if up_to_date(pngs, [out / "predictions.tsv", out / "embeddings.scp"]):
            continue
        pred = read_predictions(out / "predictions.tsv")
        if pred.refs is None:
            log.info("%s: no accent labels, no embedding plots", name)
            continue
        log.info("plotting the %s embeddings -> %s", name, plots)
        embedding_plots(read_embeddings(out / "embeddings.scp", pred.utts), pred.refs, plots, name, title,
                        max_plot_utts, seed)
    train_log = exp / "train_log.jsonl"
    if train_log.is_file() and not up_to_date([plots / "train_curves.png"], [train_log]):
        plot_train_curves(read_train_log(train_log), plots / "train_curves.png", exp.name)
    log.info("figures in %s", plots)
