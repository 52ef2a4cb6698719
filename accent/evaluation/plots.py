"""Figures of a scored experiment (matplotlib, Agg backend: no display needed).

* the confusion matrix, normalised per reference row, with the counts in the cells;
* accent embeddings projected to 2-D and 3-D with t-SNE and PCA, coloured by accent (SAR-Net's
  figures, the hybrid paper's Fig. 5);
* training curves per epoch from ``train_log.jsonl``: loss, accuracy and PER (when logged).

Every figure is written to a temporary file and renamed, so a reader never sees half a PNG.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display on a compute node
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from accent.data.kaldi_dir import DataDirError  # noqa: E402

from .scoring import AESRC_ORDER, Score, accent_order  # noqa: E402

METHODS = ("tsne", "pca")


def save_figure(fig: "plt.Figure", path: Path, dpi: int = 120) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, path)
    return path


def accent_colours(accents: Sequence[str]) -> Dict[str, Any]:
    """A fixed colour per accent (the AESRC accents always get the same one across figures)."""
    cmap = plt.get_cmap("tab10")
    others = sorted(set(accents) - set(AESRC_ORDER))
    order = list(AESRC_ORDER) + others
    return {a: cmap(order.index(a) % 10) for a in accents}


# ------------------------------------------------------------------------------------------------
# Confusion matrix


def plot_confusion(s: Score, path: Path, title: str = "") -> Path:
    """Rows normalised to the reference accent's utterances (recall on the diagonal)."""
    cm = s.confusion.astype(np.float64)
    rows = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, rows, out=np.full_like(cm, np.nan), where=rows > 0)
    n = len(s.labels)
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * n, 0.8 + 0.7 * n))
    im = ax.imshow(norm, cmap="Blues", vmin=0.0, vmax=1.0)
    for i in range(n):
        for j in range(n):
            if cm[i, j] == 0:
                continue  # empty cells stay blank: the errors stand out
            colour = "white" if norm[i, j] > 0.6 else "black"
            ax.text(j, i, f"{100 * norm[i, j]:.0f}%\n{int(cm[i, j])}", ha="center", va="center",
                    fontsize=7, color=colour)
    ax.set_xticks(range(n), s.labels)
    ax.set_yticks(range(n), s.labels)
    ax.set_xlabel("predicted accent")
    ax.set_ylabel("reference accent")
    ax.set_title(title or f"accuracy {100 * s.accuracy:.2f}%  macro {100 * s.macro:.2f}%", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of the reference accent")
    return save_figure(fig, path)


# ------------------------------------------------------------------------------------------------
# Embeddings


def project(x: np.ndarray, method: str, dims: int, seed: int = 0) -> np.ndarray:
    """(N, dims) t-SNE or PCA projection of (N, D) embeddings."""
    if method == "pca":
        from sklearn.decomposition import PCA
        return PCA(n_components=dims, random_state=seed).fit_transform(x)
    if method == "tsne":
        from sklearn.manifold import TSNE
        # perplexity must stay below the number of points; 30 is sklearn's default
        perplexity = min(30.0, max(1.0, (len(x) - 1) / 3))
        return TSNE(n_components=dims, perplexity=perplexity, init="pca", learning_rate="auto",
                    random_state=seed).fit_transform(x)
    raise ValueError(f"projection must be one of {', '.join(METHODS)}; got {method!r}")


def plot_embeddings(points: np.ndarray, accents: Sequence[str], path: Path, title: str = "") -> Path:
    """A 2-D or 3-D scatter plot of projected embeddings, one colour per accent."""
    dims = points.shape[1]
    if dims not in (2, 3):
        raise ValueError(f"can plot 2-D or 3-D points, got {dims}-D")
    order = accent_order(accents)
    colours = accent_colours(order)
    fig = plt.figure(figsize=(6.4, 5.4))
    ax = fig.add_subplot(projection="3d" if dims == 3 else None)
    acc = np.asarray(accents)
    size = 12 if len(points) <= 1000 else 5
    for a in order:
        p = points[acc == a]
        ax.scatter(*(p[:, k] for k in range(dims)), s=size, color=colours[a], label=f"{a} ({len(p)})",
                   alpha=0.75, linewidths=0)
    ax.legend(loc="center left", bbox_to_anchor=(1.02 if dims == 2 else 1.08, 0.5), fontsize=8,
              markerscale=2, frameon=False)
    ax.set_title(title, fontsize=9)
    for axis in (ax.xaxis, ax.yaxis) + ((ax.zaxis,) if dims == 3 else ()):
        axis.set_ticklabels([])  # the projection's coordinates carry no meaning
    return save_figure(fig, path)


def embedding_plots(embeddings: np.ndarray, accents: Sequence[str], out_dir: Path, name: str,
                    title: str = "", max_points: Optional[int] = 2000, seed: int = 0) -> List[Path]:
    """``embeddings_<name>_{tsne,pca}_{2d,3d}.png`` in ``out_dir``; at most ``max_points``
    (seeded subsample) so that t-SNE stays fast."""
    if len(embeddings) != len(accents):
        raise ValueError(f"{len(embeddings)} embeddings but {len(accents)} labels")
    if len(embeddings) < 4 or embeddings.shape[1] < 3:
        raise ValueError(f"{name}: {len(embeddings)} embeddings of dimension {embeddings.shape[1]}: "
                         "too few to project to 3-D")
    from .subsample import subsample
    keep = subsample(len(embeddings), max_points, seed)
    x, acc = embeddings[keep].astype(np.float64), [accents[i] for i in keep]
    paths = []
    for method in METHODS:
        for dims in (2, 3):
            pts = project(x, method, dims, seed)
            what = f"{'t-SNE' if method == 'tsne' else 'PCA'} {dims}-D of {len(x)} {name} accent embeddings"
            paths.append(plot_embeddings(pts, acc, Path(out_dir) / f"embeddings_{name}_{method}_{dims}d.png",
                                         f"{title}\n{what}" if title else what))
    return paths


# ------------------------------------------------------------------------------------------------
# Training curves


def read_train_log(path: Path) -> List[Dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found (the trainer writes one record per epoch)")
    records = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise DataDirError(f"{path}: line {i} is not JSON: {e}") from None
    if not records:
        raise DataDirError(f"{path}: no epochs logged")
    return records


def _series(history: Sequence[Mapping[str, Any]], key: str):
    pts = [(r["epoch"], r[key]) for r in history if r.get(key) is not None]
    return ([e for e, _ in pts], [v for _, v in pts]) if pts else None


def plot_train_curves(history: Sequence[Mapping[str, Any]], path: Path, title: str = "") -> Path:
    """Loss, accuracy (%) and PER (%) per epoch, train and dev, the best epoch marked."""
    panels = [("loss", "loss", 1.0), ("acc", "accuracy (%)", 100.0), ("per", "PER (%)", 100.0)]
    panels = [p for p in panels if any(_series(history, f"{s}_{p[0]}") for s in ("train", "dev"))]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    best = [r["epoch"] for r in history if r.get("is_best")]
    for ax, (key, ylabel, scale) in zip(axes[0], panels):
        for split, style in (("train", "-o"), ("dev", "-s")):
            series = _series(history, f"{split}_{key}")
            if series:
                ax.plot(series[0], [scale * v for v in series[1]], style, markersize=3, label=split)
        if best:
            ax.axvline(best[-1], color="grey", linestyle=":", linewidth=1, label=f"best (epoch {best[-1]})")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
