"""One decision per group of utterances (a speaker, or any utt2spk-style grouping).

A group's accent is the argmax of the *summed* log-posteriors of its utterances,
``argmax_k Σ_u log p(k | u)``: the utterances are taken as independent evidence (a product of
their posteriors), the usual speaker-level decision of language and accent ID.  The group's
posteriors are those sums renormalised (a softmax).  Stage 6 (per-speaker accuracy through
``utt2spk``) and ``accent-id --utt2spk`` both use :func:`group_decisions`.

A system that scores a group's utterances together gives its own *group scores* instead, on the
same scale: the phonotactic system classifies a speaker's pooled phone n-gram counts, and counts the
pooled document's log-posterior once per utterance it pools (as a sum would), so that a fusion
weighs it against the other systems' sums as it weighs their utterances.  A decode directory keeps
them in ``speaker_scores.tsv`` (:func:`write_group_scores`).

Numpy only: ``accent-id`` imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np

from accent.utils.files import DataDirError

from .score_table import LOGP, read_score_table, write_score_table

# log of the smallest normal float32: the floor of a posterior that underflowed to 0
LOG_FLOOR = float(np.log(np.finfo(np.float32).tiny))


def log_posteriors(posteriors: np.ndarray) -> np.ndarray:
    """Natural-log posteriors of probabilities, exact zeros floored at :data:`LOG_FLOOR`."""
    p = np.asarray(posteriors, dtype=np.float64)
    return np.log(np.maximum(p, np.exp(LOG_FLOOR)))


@dataclass
class GroupDecisions:
    groups: List[str]              # sorted (C order)
    members: List[List[int]]       # the utterance indices of each group, in input order
    log_posteriors: np.ndarray     # (G, K) summed over each group's utterances
    labels: List[str]              # the K posterior columns
    hyps: List[str]                # the argmax label of each group

    @property
    def posteriors(self) -> np.ndarray:
        """(G, K) the summed log-posteriors renormalised: the group's posterior per label."""
        x = self.log_posteriors - self.log_posteriors.max(axis=1, keepdims=True)
        e = np.exp(x)
        return e / e.sum(axis=1, keepdims=True)

    def refs(self, utt_refs: Sequence[str], where: str = "") -> List[str]:
        """The label of each group from its utterances' labels; they must agree within a group."""
        out = []
        for g, idx in zip(self.groups, self.members):
            labs = sorted({utt_refs[i] for i in idx})
            if len(labs) != 1:
                raise ValueError(f"{where}: {g} has utterances labelled {', '.join(labs)}; a group-level "
                                 "decision needs one label per group")
            out.append(labs[0])
        return out


def group_decisions(utts: Sequence[str], log_post: np.ndarray, utt2group: Mapping[str, str],
                    labels: Sequence[str], where: str = "utt2spk",
                    group_scores: Optional[Mapping[str, np.ndarray]] = None) -> GroupDecisions:
    """Sum the ``(N, K)`` log-posteriors of ``utts`` per group of ``utt2group``; every utterance
    needs a group (``where`` names the mapping in the error).  ``group_scores``: the system's own
    score of each group (columns ``labels``), used instead of the sums; it must cover exactly the
    groups of ``utts``."""
    log_post = np.asarray(log_post, dtype=np.float64)
    if log_post.shape != (len(utts), len(labels)):
        raise ValueError(f"{len(utts)} utterances and {len(labels)} labels but log-posteriors of shape "
                         f"{log_post.shape}")
    missing = [u for u in utts if u not in utt2group]
    if missing:
        raise ValueError(f"{where}: no entry for {missing[0]} ({len(missing)} of {len(utts)} utterances "
                         "have no group)")
    index: Dict[str, List[int]] = {}
    for i, u in enumerate(utts):
        index.setdefault(utt2group[u], []).append(i)
    groups = sorted(index, key=lambda g: g.encode("utf-8"))
    members = [index[g] for g in groups]
    if group_scores is not None:
        other = sorted(set(group_scores) ^ set(groups))
        if other:
            raise ValueError(f"{where}: the group scores and the groups of the utterances differ "
                             f"({len(other)} groups, e.g. {other[0]!r})")
        summed = np.array([np.asarray(group_scores[g], dtype=np.float64) for g in groups]).reshape(len(groups), len(labels))
    else:
        summed = np.stack([log_post[idx].sum(axis=0) for idx in members]) if groups else np.zeros((0, len(labels)))
    return GroupDecisions(groups, members, summed, list(labels), [labels[int(k)] for k in summed.argmax(axis=1)])



GROUP_SCORES = "speaker_scores.tsv"  # a decode directory's own per-speaker scores, where a system has them


def write_group_scores(path: Path, scores: Mapping[str, np.ndarray], labels: Sequence[str]) -> None:
    """``spk <score per label>`` lines (:mod:`accent.evaluation.score_table`), in C order."""
    groups = sorted(scores, key=lambda g: g.encode("utf-8"))
    write_score_table(path, ["spk"], [[g] for g in groups], labels,
                      np.array([scores[g] for g in groups]).reshape(len(groups), len(labels)))


def read_group_scores(path: Path, labels: Sequence[str]) -> Dict[str, np.ndarray]:
    """The scores of :func:`write_group_scores`, whose columns must be ``labels``."""
    keys, columns, values = read_score_table(path, ["spk"], "a speaker-score file")
    if columns != [LOGP + lab for lab in labels]:
        raise DataDirError(f"{path}: not a speaker-score file with the columns "
                           f"{' '.join(LOGP + lab for lab in labels)}")
    return {k[0]: v for k, v in zip(keys, values)}
