"""Phone n-gram classifier: TF-IDF of phone 1- to 3-grams and a multinomial logistic regression.

The input is one or more *streams* of phone strings, one string per utterance in each (the same
audio decoded at several language weights, as parallel phone recognisers): each stream has its own
n-gram vocabulary and idf, and one regression reads them side by side.  With the utterances'
durations it also reads each decoding's speaking rate (log recognised phones per second,
standardised on the training set): the n-gram TF-IDF is length-normalised, so it cannot tell a
fluent reader from a slow one, which the rate can.  Fitted with scikit-learn (C
chosen by cross-validation over *speakers*, so no speaker is scored by a model that saw it), stored
as plain JSON (vocabularies, idf, weights) and scored with numpy, so a stored model loads without
pickle.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

# up to 1000: with a few thousand n-gram features and ~100 speakers, weak regularisation wins in
# speaker-grouped CV on SAA-dev's train speakers
C_GRID = (0.1, 1.0, 10.0, 100.0, 1000.0)

# the rate columns' weight against the unit-norm TF-IDF blocks: chosen by speaker-grouped CV on
# SAA-dev's train speakers (accent.bin.bench_phonotactic --rate-scales, README)
RATE_SCALE = 1.0

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


def _check_durations(durations: Sequence[float], n: int) -> np.ndarray:
    d = np.asarray(durations, dtype=float)
    if d.shape != (n,):
        raise ValueError(f"expected {n} durations (one per utterance), got {d.size}")
    if not np.all(d > 0):
        raise ValueError(f"{int(np.sum(~(d > 0)))} utterance(s) with a duration that is not positive")
    return d


def speaking_rates(streams: Streams, durations: Sequence[float]) -> np.ndarray:
    """``(utterances, streams)``: log((recognised phones + 1) / seconds) of each decoding."""
    d = _check_durations(durations, _check_streams(streams))
    counts = np.array([[len(t.split()) for t in s] for s in streams], dtype=float).T
    return np.log((counts + 1.0) / d[:, None])


@dataclass
class RateColumns:
    """The speaking-rate columns: the training set's mean and sd of each decoding's rate, and their
    weight against the unit-norm TF-IDF blocks."""
    mean: np.ndarray
    sd: np.ndarray
    scale: float

    @classmethod
    def fit(cls, rates: np.ndarray, scale: float) -> "RateColumns":
        return cls(rates.mean(axis=0), np.maximum(rates.std(axis=0), 1e-6), float(scale))

    def __call__(self, rates: np.ndarray) -> np.ndarray:
        return self.scale * (rates - self.mean) / self.sd

    def to_json(self) -> Dict[str, object]:
        return {"mean": self.mean.tolist(), "sd": self.sd.tolist(), "scale": self.scale}

    @classmethod
    def from_json(cls, d: Mapping[str, object]) -> "RateColumns":
        return cls(np.asarray(d["mean"], dtype=float), np.asarray(d["sd"], dtype=float), float(d["scale"]))  # type: ignore[arg-type]


class PhonotacticClassifier:
    def __init__(self, labels: Sequence[str], vocabularies: Sequence[Dict[str, int]], idfs: Sequence[np.ndarray],
                 coef: np.ndarray, intercept: np.ndarray, orders: Tuple[int, int] = (1, 3), c: Optional[float] = None,
                 rate: Optional[RateColumns] = None):
        self.labels, self.orders, self.c = list(labels), tuple(orders), c
        self.vocabularies = [dict(v) for v in vocabularies]
        self.idfs = [np.asarray(i) for i in idfs]
        self.coef, self.intercept = np.asarray(coef), np.asarray(intercept)
        self.rate = rate  # None: no speaking-rate columns
        rate_cols = 0 if rate is None else len(self.idfs)
        if sum(len(i) for i in self.idfs) + rate_cols != self.coef.shape[1]:
            raise ValueError("phonotactic model: idf sizes (and rate columns) do not add up to the weights' columns")

    @property
    def num_parameters(self) -> int:
        return int(self.coef.size + self.intercept.size)

    @property
    def num_streams(self) -> int:
        return len(self.idfs)

    @property
    def uses_durations(self) -> bool:
        return self.rate is not None

    @classmethod
    def fit(cls, streams: Streams, labels: Sequence[str], groups: Sequence[str], label_list: Sequence[str],
            orders: Tuple[int, int] = (1, 3), min_df: int = 2, durations: Optional[Sequence[float]] = None,
            rate_scale: float = RATE_SCALE) -> "PhonotacticClassifier":
        """``durations`` (seconds per utterance) add the speaking-rate columns, weighted
        ``rate_scale`` (0: none)."""
        from scipy.sparse import csr_matrix, hstack
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import GridSearchCV, GroupKFold

        n = _check_streams(streams)
        if not any(t.split() for s in streams for t in s):
            raise ValueError("no training utterance has a recognised phone: nothing to learn from")
        # n-grams seen in one utterance only are noise, unless the set is too small to have others
        min_df = min_df if n >= 10 * min_df else 1
        vecs = [TfidfVectorizer(analyzer=lambda t: ngrams(t, orders), sublinear_tf=True, min_df=min_df) for _ in streams]
        blocks = [v.fit_transform(s) for v, s in zip(vecs, streams)]
        rate = None
        if durations is not None and rate_scale > 0:
            r = speaking_rates(streams, durations)
            rate = RateColumns.fit(r, rate_scale)
            blocks.append(csr_matrix(rate(r)))
        x = hstack(blocks).tocsr()
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
                   float(search.best_params_["C"]), rate)

    def features(self, streams: Streams, durations: Optional[Sequence[float]] = None,
                 documents: Optional[Sequence[Sequence[int]]] = None) -> np.ndarray:
        """One row per utterance, or per document of ``documents`` (lists of utterance indices):
        a document's n-gram counts, phones and seconds are those of its utterances added up."""
        n = _check_streams(streams, self.num_streams)
        if self.rate is not None and durations is None:
            raise ValueError("this phonotactic model reads speaking rates: give the utterances' durations")
        docs = [[i] for i in range(n)] if documents is None else [list(d) for d in documents]
        blocks = []
        for texts, vocab, idf in zip(streams, self.vocabularies, self.idfs):
            x = np.zeros((len(docs), len(idf)))
            for row, members in enumerate(docs):
                counts: Counter = Counter()
                for i in members:
                    counts.update(ngrams(texts[i], self.orders))
                for g, c in counts.items():
                    j = vocab.get(g)
                    if j is not None:
                        x[row, j] = 1.0 + np.log(c)
            x *= idf
            norm = np.linalg.norm(x, axis=1, keepdims=True)  # TfidfVectorizer's l2 norm, per stream
            blocks.append(x / np.where(norm > 0, norm, 1.0))
        if self.rate is not None:
            d = _check_durations(durations, n)  # type: ignore[arg-type]
            rate_streams = streams
            if documents is not None:  # a document's phones over its seconds
                rate_streams = [[" ".join(texts[i] for i in members) for members in docs] for texts in streams]
                d = np.array([d[members].sum() for members in docs])
            blocks.append(self.rate(speaking_rates(rate_streams, d)))
        return np.hstack(blocks)

    def log_posteriors(self, streams: Streams, durations: Optional[Sequence[float]] = None,
                       documents: Optional[Sequence[Sequence[int]]] = None) -> np.ndarray:
        z = self.features(streams, durations, documents) @ self.coef.T + self.intercept
        z -= z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    def speaker_scores(self, streams: Streams, speakers: Sequence[str],
                       durations: Optional[Sequence[float]] = None) -> Dict[str, np.ndarray]:
        """Each speaker's score from its utterances' pooled counts: the pooled document's
        log-posterior once per utterance, the scale of a sum (accent.evaluation.aggregate).
        Pooled counts are steadier than a few seconds' each: +3.3 points per speaker on the dev
        speakers of every SAA-dev split (README, "Real corpora")."""
        members: Dict[str, List[int]] = {}
        for i, spk in enumerate(speakers):
            members.setdefault(spk, []).append(i)
        spks = sorted(members)
        lp = self.log_posteriors(streams, durations, [members[g] for g in spks])
        return {g: len(members[g]) * row for g, row in zip(spks, lp)}

    def save(self, path: Union[str, os.PathLike]) -> None:
        from accent.data.kaldi_dir import write_text_atomic

        write_text_atomic(Path(path), json.dumps({
            "labels": self.labels, "orders": list(self.orders), "C": self.c,
            "streams": [{"vocabulary": v, "idf": i.tolist()} for v, i in zip(self.vocabularies, self.idfs)],
            "coef": self.coef.tolist(), "intercept": self.intercept.tolist(),
            "rate": None if self.rate is None else self.rate.to_json()}))

    @classmethod
    def load(cls, path: Union[str, os.PathLike]) -> "PhonotacticClassifier":
        try:
            d = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(d["labels"], [x["vocabulary"] for x in d["streams"]], [np.array(x["idf"]) for x in d["streams"]],
                       np.array(d["coef"]), np.array(d["intercept"]), tuple(d["orders"]), d.get("C"),
                       None if d.get("rate") is None else RateColumns.from_json(d["rate"]))
        except (OSError, ValueError, KeyError) as e:
            raise ValueError(f"{path}: not a phonotactic model ({e})") from None
