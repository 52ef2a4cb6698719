"""Phone n-gram classifier: TF-IDF of phone 1- to 3-grams and a multinomial logistic regression.

Fitted with scikit-learn (C chosen by cross-validation over *speakers*, so no speaker is scored by
a model that saw it), stored as plain JSON (vocabulary, idf, weights) and scored with numpy, so a
stored model loads without pickle.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

C_GRID = (0.1, 1.0, 10.0, 100.0)


def ngrams(text: str, orders: Tuple[int, int]) -> List[str]:
    tokens = text.split()
    return [" ".join(tokens[i:i + n]) for n in range(orders[0], orders[1] + 1) for i in range(len(tokens) - n + 1)]


class PhonotacticClassifier:
    def __init__(self, labels: Sequence[str], vocabulary: Dict[str, int], idf: np.ndarray, coef: np.ndarray,
                 intercept: np.ndarray, orders: Tuple[int, int] = (1, 3), c: Optional[float] = None):
        self.labels, self.vocabulary, self.orders, self.c = list(labels), dict(vocabulary), tuple(orders), c
        self.idf, self.coef, self.intercept = np.asarray(idf), np.asarray(coef), np.asarray(intercept)

    @property
    def num_parameters(self) -> int:
        return int(self.coef.size + self.intercept.size)

    @classmethod
    def fit(cls, texts: Sequence[str], labels: Sequence[str], groups: Sequence[str], label_list: Sequence[str],
            orders: Tuple[int, int] = (1, 3), min_df: int = 2) -> "PhonotacticClassifier":
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import GridSearchCV, GroupKFold

        if not any(t.split() for t in texts):
            raise ValueError("no training utterance has a recognised phone: nothing to learn from")
        # n-grams seen in one utterance only are noise, unless the set is too small to have others
        min_df = min_df if len(texts) >= 10 * min_df else 1
        vec = TfidfVectorizer(analyzer=lambda t: ngrams(t, orders), sublinear_tf=True, min_df=min_df)
        x = vec.fit_transform(texts)
        y = np.array([list(label_list).index(a) for a in labels])
        folds = min(5, len(set(groups)))
        search = GridSearchCV(LogisticRegression(max_iter=5000), {"C": list(C_GRID)}, cv=GroupKFold(folds))
        search.fit(x, y, groups=list(groups))
        lr = search.best_estimator_
        coef = np.zeros((len(label_list), x.shape[1]))
        intercept = np.full(len(label_list), -1e4)  # a label without training data is never chosen
        coef[lr.classes_], intercept[lr.classes_] = lr.coef_, lr.intercept_
        vocab = {k: int(v) for k, v in vec.vocabulary_.items()}
        return cls(label_list, vocab, vec.idf_, coef, intercept, orders, float(search.best_params_["C"]))

    def features(self, texts: Sequence[str]) -> np.ndarray:
        x = np.zeros((len(texts), len(self.idf)))
        for i, t in enumerate(texts):
            for g, n in Counter(ngrams(t, self.orders)).items():
                j = self.vocabulary.get(g)
                if j is not None:
                    x[i, j] = 1.0 + np.log(n)
        x *= self.idf
        norm = np.linalg.norm(x, axis=1, keepdims=True)
        return x / np.where(norm > 0, norm, 1.0)

    def log_posteriors(self, texts: Sequence[str]) -> np.ndarray:
        z = self.features(texts) @ self.coef.T + self.intercept
        z -= z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    def save(self, path: Union[str, os.PathLike]) -> None:
        from accent.data.kaldi_dir import write_text_atomic

        write_text_atomic(Path(path), json.dumps({
            "labels": self.labels, "orders": list(self.orders), "C": self.c, "vocabulary": self.vocabulary,
            "idf": self.idf.tolist(), "coef": self.coef.tolist(), "intercept": self.intercept.tolist()}))

    @classmethod
    def load(cls, path: Union[str, os.PathLike]) -> "PhonotacticClassifier":
        try:
            d = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(d["labels"], d["vocabulary"], np.array(d["idf"]), np.array(d["coef"]),
                       np.array(d["intercept"]), tuple(d["orders"]), d.get("C"))
        except (OSError, ValueError, KeyError) as e:
            raise ValueError(f"{path}: not a phonotactic model ({e})") from None
