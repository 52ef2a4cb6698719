"""A floor for accent ID on a data set: mean+std pooled log-mel + logistic regression.

It shows how much of the task is solvable from long-term spectral statistics
alone (channel, voice timbre). On a useful corpus it stays well below a trained
model; on the demo corpus it is the check that the synthetic task is not trivial.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import kaldiio
import numpy as np

from accent.data.kaldi_dir import read_list, read_mapping

C_GRID = (0.001, 0.01, 0.1, 1.0, 10.0)


def pooled_fbank(data_dir: Path, labels: List[str]) -> Tuple[List[str], np.ndarray, np.ndarray]:
    """Utterance IDs, (utterances, 2*D) mean and std of each utterance's features, label indices."""
    data_dir = Path(data_dir)
    utt2accent = read_mapping(data_dir / "utt2accent")
    index = {a: i for i, a in enumerate(labels)}
    utts, xs, ys = [], [], []
    for utt, mat in kaldiio.load_scp_sequential(str(data_dir / "feats.scp")):
        if utt2accent[utt] not in index:
            raise ValueError(f"{data_dir / 'utt2accent'}: {utt} has label {utt2accent[utt]} outside {labels}")
        utts.append(utt)
        xs.append(np.concatenate([mat.mean(0), mat.std(0)]))
        ys.append(index[utt2accent[utt]])
    return utts, np.stack(xs), np.array(ys)


def _classifier(x: np.ndarray, y: np.ndarray, c: Optional[float], groups: Sequence[str]):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if c is None:  # C by cross-validation over speakers, so no speaker is in its own fold's training
        from sklearn.model_selection import GridSearchCV, GroupKFold

        folds = min(5, len(set(groups)))
        search = GridSearchCV(make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
                              {"logisticregression__C": list(C_GRID)}, cv=GroupKFold(folds))
        search.fit(x, y, groups=list(groups))
        return search.best_estimator_
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
    return clf.fit(x, y)


def linear_baseline_accuracy(train_dir: Path, eval_dir: Path, c: float = 1.0) -> float:
    """Accuracy on ``eval_dir`` of a logistic regression trained on ``train_dir``."""
    labels = read_list(Path(train_dir) / "accents")
    _, x_train, y_train = pooled_fbank(train_dir, labels)
    _, x_eval, y_eval = pooled_fbank(eval_dir, labels)
    clf = _classifier(x_train, y_train, c, [])
    return float((clf.predict(x_eval) == y_eval).mean())


def linear_baseline_scores(train_dir: Path, eval_dir: Path, c: Optional[float] = None) -> Tuple[float, float]:
    """(per-utterance, per-speaker) accuracy on ``eval_dir``; a speaker's decision is the argmax of
    its utterances' summed log-probabilities (as stage 6).  ``c`` None: chosen from ``C_GRID`` by
    speaker-grouped cross-validation on ``train_dir``."""
    from .aggregate import group_decisions

    train_dir, eval_dir = Path(train_dir), Path(eval_dir)
    labels = read_list(train_dir / "accents")
    utts_train, x_train, y_train = pooled_fbank(train_dir, labels)
    utt2spk_train = read_mapping(train_dir / "utt2spk")
    clf = _classifier(x_train, y_train, c, [utt2spk_train[u] for u in utts_train])
    utts, x_eval, y_eval = pooled_fbank(eval_dir, labels)
    log_p = np.full((len(utts), len(labels)), -1e30)
    log_p[:, clf.classes_] = clf.predict_log_proba(x_eval)
    seg = float((log_p.argmax(1) == y_eval).mean())
    g = group_decisions(utts, log_p, read_mapping(eval_dir / "utt2spk"), labels)
    refs = g.refs([labels[k] for k in y_eval], str(eval_dir / "utt2spk"))
    spk = float(np.mean([h == r for h, r in zip(g.hyps, refs)]))
    return seg, spk
