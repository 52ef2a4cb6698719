"""Cepstral mean and variance normalisation, with statistics in Kaldi's format.

Kaldi stores CMVN statistics as a 2 x (D+1) matrix: row 0 holds the sums of
each dimension and the frame count, row 1 the sums of squares.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import kaldiio
import numpy as np


def accumulate_cmvn_stats(feats: Iterable[np.ndarray]) -> np.ndarray:
    stats = None
    for mat in feats:
        mat = np.asarray(mat, dtype=np.float64)
        if stats is None:
            stats = np.zeros((2, mat.shape[1] + 1), dtype=np.float64)
        stats[0, :-1] += mat.sum(axis=0)
        stats[1, :-1] += (mat**2).sum(axis=0)
        stats[0, -1] += mat.shape[0]
    if stats is None:
        raise ValueError("no features to accumulate CMVN statistics from")
    return stats


def compute_global_cmvn(feats_scp: Path, out: Path) -> np.ndarray:
    """Global statistics over every utterance of ``feats_scp``, saved as a Kaldi matrix."""
    stats = accumulate_cmvn_stats(mat for _, mat in kaldiio.load_scp_sequential(str(feats_scp)))
    tmp = Path(str(out) + ".tmp")
    kaldiio.save_mat(str(tmp), stats)
    tmp.replace(out)
    return stats


def mean_std(stats: np.ndarray, floor: float = 1e-10) -> tuple:
    count = stats[0, -1]
    mean = stats[0, :-1] / count
    var = np.maximum(stats[1, :-1] / count - mean**2, floor)
    return mean, np.sqrt(var)
