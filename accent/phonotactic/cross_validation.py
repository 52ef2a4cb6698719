"""Speaker-grouped cross-validation of the phonotactic classifier on one corpus: how well a choice of
decodings (language weights) does on speakers it was not fitted on, measured on training speakers
only, so that the choice never looks at a test set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Sequence

import numpy as np

from .classifier import PhonotacticClassifier


@dataclass
class CvResult:
    segment: List[float]  # accuracy per repeat
    speaker: List[float]


def speaker_folds(speakers: Sequence[str], folds: int, seed: int) -> np.ndarray:
    """Fold index of each utterance: the speakers are shuffled with ``seed`` and dealt round."""
    spks = sorted(set(speakers))
    if len(spks) < folds:
        raise ValueError(f"{len(spks)} speakers: too few for {folds} folds")
    order = np.random.default_rng([20261202, seed]).permutation(len(spks))
    fold_of = {s: int(k) % folds for s, k in zip(spks, order)}
    return np.array([fold_of[s] for s in speakers])


def cross_validate(streams: Sequence[Sequence[str]], labels: Sequence[str], speakers: Sequence[str],
                   label_list: Sequence[str], folds: int = 5, repeats: int = 3) -> CvResult:
    """Per repeat, every utterance is scored by a classifier fitted on the other folds' speakers
    (its own C chosen by an inner speaker-grouped CV); a speaker's decision is its utterances'
    summed log-posteriors, as in stage 6."""
    from accent.evaluation.aggregate import group_decisions

    labels, speakers = list(labels), list(speakers)
    y = np.array([list(label_list).index(a) for a in labels])
    result = CvResult([], [])
    utts = [f"{s}-{i}" for i, s in enumerate(speakers)]
    for r in range(repeats):
        fold = speaker_folds(speakers, folds, r)
        lp = np.zeros((len(y), len(label_list)))
        for k in range(folds):
            tr, te = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
            model = PhonotacticClassifier.fit([[s[i] for i in tr] for s in streams], [labels[i] for i in tr],
                                              [speakers[i] for i in tr], label_list)
            lp[te] = model.log_posteriors([[s[i] for i in te] for s in streams])
        result.segment.append(float((lp.argmax(1) == y).mean()))
        g = group_decisions(utts, lp, dict(zip(utts, speakers)), list(label_list))
        refs = g.refs(labels)
        result.speaker.append(float(np.mean([h == ref for h, ref in zip(g.hyps, refs)])))
    return result


def compare_weights(streams_by_weight: Mapping[float, Mapping[str, str]], systems: Sequence[Sequence[float]],
                    utt2accent: Mapping[str, str], utt2spk: Mapping[str, str], folds: int = 5,
                    repeats: int = 3) -> Dict[str, CvResult]:
    """``cross_validate`` for each set of language weights in ``systems`` (same folds for all)."""
    utts = sorted(utt2accent)
    label_list = sorted(set(utt2accent.values()))
    out = {}
    for weights in systems:
        name = " + ".join(f"{w:g}" for w in weights)
        streams = [[streams_by_weight[w][u] for u in utts] for w in weights]
        out[name] = cross_validate(streams, [utt2accent[u] for u in utts], [utt2spk[u] for u in utts], label_list,
                                   folds, repeats)
    return out
