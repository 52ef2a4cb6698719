"""Phone n-gram classifier: TF-IDF of phone 1- to 3-grams and a multinomial logistic regression.

The input is one or more *streams* of phone strings, one string per utterance in each (the same
audio decoded at several language weights, as parallel phone recognisers): each stream has its own
n-gram vocabulary and idf, and one regression reads them side by side.  Fitted with scikit-learn (C
chosen by cross-validation over *speakers*, so no speaker is scored by a model that saw it), stored
as plain JSON (vocabularies, idf, weights) and scored with numpy, so a stored model loads without
pickle.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

# up to 1000: with a few thousand n-gram features and ~100 speakers, weak regularisation wins in
# speaker-grouped CV on SAA-dev's train speakers
C_GRID = (0.1, 1.0, 10.0, 100.0, 1000.0)

Streams = Sequence[Sequence[str]]  # streams[k][i]: utterance i's phones in decoding k


def ngrams(text: str, orders: Tuple[int, int]) -> List[str]:
    tokens = text.split()
    return [" ".join(tokens[i:i + n]) for n in range(orders[0], orders[1] + 1) for i in range(len(tokens) - n + 1)]


def _check_streams(streams: Streams, num_streams: Optional[int] = None) -> int:
    if not streams or (num_streams is not None and len(streams) != num_streams):
        raise ValueError(f"expected {num_streams or 'at least one'} phone stream(s), got {len(streams)}")
    sizes = {len(s) for s in streams}
    if len(sizes) != 1:
        raise ValueError(f"phone streams of different lengths: {sorted(sizes)}")
    return sizes.pop()


class PhonotacticClassifier:
    def __init__(self, labels: Sequence[str], vocabularies: Sequence[Dict[str, int]], idfs: Sequence[np.ndarray],
                 coef: np.ndarray, intercept: np.ndarray, orders: Tuple[int, int] = (1, 3), c: Optional[float] = None):
        self.labels, self.orders, self.c = list(labels), tuple(orders), c
        self.vocabularies = [dict(v) for v in vocabularies]
        self.idfs = [np.asarray(i) for i in idfs]
        self.coef, self.intercept = np.asarray(coef), np.asarray(intercept)
        if sum(len(i) for i in self.idfs) != self.coef.shape[1]:
            raise ValueError("phonotactic model: idf sizes do not add up to the weights' columns")

    @property
    def num_parameters(self) -> int:
        return int(self.coef.size + self.intercept.size)

    @property
    def num_streams(self) -> int:
        return len(self.idfs)

    @classmethod
    def fit(cls, streams: Streams, labels: Sequence[str], groups: Sequence[str], label_list: Sequence[str],
            orders: Tuple[int, int] = (1, 3), min_df: int = 2) -> "PhonotacticClassifier":
        from scipy.sparse import hstack
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import GridSearchCV, GroupKFold

        n = _check_streams(streams)
        if not any(t.split() for s in streams for t in s):
            raise ValueError("no training utterance has a recognised phone: nothing to learn from")
        # n-grams seen in one utterance only are noise, unless the set is too small to have others
        min_df = min_df if n >= 10 * min_df else 1
        vecs = [TfidfVectorizer(analyzer=lambda t: ngrams(t, orders), sublinear_tf=True, min_df=min_df) for _ in streams]
        x = hstack([v.fit_transform(s) for v, s in zip(vecs, streams)]).tocsr()
        y = np.array([list(label_list).index(a) for a in labels])
        folds = min(5, len(set(groups)))
        search = GridSearchCV(LogisticRegression(max_iter=5000), {"C": list(C_GRID)}, cv=GroupKFold(folds))
        search.fit(x, y, groups=list(groups))
        lr = search.best_estimator_
        coef = np.zeros((len(label_list), x.shape[1]))
        intercept = np.full(len(label_list), -1e4)  # a label without training data is never chosen
        if len(lr.classes_) == 2:  # scikit-learn's binary model is one row: sigmoid(w.x + b) = softmax([0, w.x + b])
            coef[lr.classes_[1]], intercept[lr.classes_] = lr.coef_[0], [0.0, lr.intercept_[0]]
        else:
            coef[lr.classes_], intercept[lr.classes_] = lr.coef_, lr.intercept_
        vocabs = [{k: int(j) for k, j in v.vocabulary_.items()} for v in vecs]
        return cls(label_list, vocabs, [v.idf_ for v in vecs], coef, intercept, orders,
                   float(search.best_params_["C"]))

    def features(self, streams: Streams) -> np.ndarray:
        n = _check_streams(streams, self.num_streams)
        blocks = []
        for texts, vocab, idf in zip(streams, self.vocabularies, self.idfs):
            x = np.zeros((n, len(idf)))
            for i, t in enumerate(texts):
                for g, c in Counter(ngrams(t, self.orders)).items():
                    j = vocab.get(g)
                    if j is not None:
                        x[i, j] = 1.0 + np.log(c)
            x *= idf
            norm = np.linalg.norm(x, axis=1, keepdims=True)  # TfidfVectorizer's l2 norm, per stream
            blocks.append(x / np.where(norm > 0, norm, 1.0))
        return np.hstack(blocks)

    def log_posteriors(self, streams: Streams) -> np.ndarray:
        z = self.features(streams) @ self.coef.T + self.intercept
        z -= z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    def save(self, path: Union[str, os.PathLike]) -> None:
        from accent.data.kaldi_dir import write_text_atomic

        write_text_atomic(Path(path), json.dumps({
            "labels": self.labels, "orders": list(self.orders), "C": self.c,
            "streams": [{"vocabulary": v, "idf": i.tolist()} for v, i in zip(self.vocabularies, self.idfs)],
            "coef": self.coef.tolist(), "intercept": self.intercept.tolist()}))

    @classmethod
    def load(cls, path: Union[str, os.PathLike]) -> "PhonotacticClassifier":
        try:
            d = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(d["labels"], [x["vocabulary"] for x in d["streams"]], [np.array(x["idf"]) for x in d["streams"]],
                       np.array(d["coef"]), np.array(d["intercept"]), tuple(d["orders"]), d.get("C"))
        except (OSError, ValueError, KeyError) as e:
            raise ValueError(f"{path}: not a phonotactic model ({e})") from None
