"""A floor for accent ID on a data set: mean+std pooled log-mel + logistic regression.

It shows how much of the task is solvable from long-term spectral statistics
alone (channel, voice timbre). On a useful corpus it stays well below a trained
model; on the demo corpus it is the check that the synthetic task is not trivial.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Tuple

import kaldiio
import numpy as np

from accent.data.kaldi_dir import read_list, read_mapping


def pooled_fbank(data_dir: Path, labels: List[str]) -> Tuple[np.ndarray, np.ndarray]:
    """(utterances, 2*D) mean and std of each utterance's features, and label indices."""
    data_dir = Path(data_dir)
    utt2accent = read_mapping(data_dir / "utt2accent")
    index = {a: i for i, a in enumerate(labels)}
    xs, ys = [], []
    for utt, mat in kaldiio.load_scp_sequential(str(data_dir / "feats.scp")):
        if utt2accent[utt] not in index:
            raise ValueError(f"{data_dir / 'utt2accent'}: {utt} has label {utt2accent[utt]} outside {labels}")
        xs.append(np.concatenate([mat.mean(0), mat.std(0)]))
        ys.append(index[utt2accent[utt]])
    return np.stack(xs), np.array(ys)


def linear_baseline_accuracy(train_dir: Path, eval_dir: Path, c: float = 1.0) -> float:
    """Accuracy on ``eval_dir`` of a logistic regression trained on ``train_dir``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    labels = read_list(Path(train_dir) / "accents")
    x_train, y_train = pooled_fbank(train_dir, labels)
    x_eval, y_eval = pooled_fbank(eval_dir, labels)
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
    clf.fit(x_train, y_train)
    return float((clf.predict(x_eval) == y_eval).mean())
