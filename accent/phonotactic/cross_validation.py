"""Speaker-grouped cross-validation of the phonotactic classifier on one corpus: how well a choice of
decodings (language weights) does on speakers it was not fitted on, measured on training speakers
only, so that the choice never looks at a test set."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .classifier import RATE_SCALE, PhonotacticClassifier


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


def _subset(xs: Optional[Sequence[float]], idx: np.ndarray) -> Optional[List[float]]:
    return None if xs is None else [xs[i] for i in idx]


def cross_validate(utts: Sequence[str], streams: Sequence[Sequence[str]], utt2accent: Mapping[str, str],
                   utt2spk: Mapping[str, str], folds: int = 5, repeats: int = 3,
                   durations: Optional[Sequence[float]] = None, rate_scale: float = RATE_SCALE) -> CvResult:
    """Per repeat, every utterance is scored by a classifier fitted on the other folds' speakers
    (its own C chosen by an inner speaker-grouped CV), and scored as stage 6 scores: per utterance,
    and per speaker from its utterances' pooled counts.  ``durations`` (per utterance) add
    the speaking rate, weighted ``rate_scale``."""
    from accent.evaluation.scoring import score_with_speakers

    labels = [utt2accent[u] for u in utts]
    speakers = [utt2spk[u] for u in utts]
    label_list = sorted(set(labels))
    result = CvResult([], [])
    for r in range(repeats):
        fold = speaker_folds(speakers, folds, r)
        lp = np.zeros((len(utts), len(label_list)))
        speaker_scores: Dict[str, np.ndarray] = {}
        for k in range(folds):
            tr, te = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
            model = PhonotacticClassifier.fit([[s[i] for i in tr] for s in streams], [labels[i] for i in tr],
                                              [speakers[i] for i in tr], label_list,
                                              durations=_subset(durations, tr), rate_scale=rate_scale)
            te_streams = [[s[i] for i in te] for s in streams]
            lp[te] = model.log_posteriors(te_streams, _subset(durations, te))
            speaker_scores.update(model.speaker_scores(te_streams, [speakers[i] for i in te], _subset(durations, te)))
        score = score_with_speakers(utts, labels, [label_list[int(k)] for k in lp.argmax(1)], label_list, lp, utt2spk,
                                    speaker_scores=speaker_scores)
        result.segment.append(score.accuracy)
        result.speaker.append(score.speakers.accuracy)
    return result


def pooled_decodings(data_dirs: Sequence[Path], weights: Sequence[float], num_jobs: int = 1
                     ) -> Tuple[Dict[float, Dict[str, str]], Dict[str, str], Dict[str, str], Dict[str, float]]:
    """``({weight: {utt: phones}}, utt2accent, utt2spk, utt2dur)`` over ``data_dirs``; a decoding
    missing from a dir is written there first."""
    from accent.data.kaldi_dir import read_durations, read_mapping

    from .experiment import decode_phones, phones_file, read_phones

    streams: Dict[float, Dict[str, str]] = {w: {} for w in weights}
    utt2accent: Dict[str, str] = {}
    utt2spk: Dict[str, str] = {}
    utt2dur: Dict[str, float] = {}
    for d in map(Path, data_dirs):
        missing = [w for w in weights if not (d / phones_file(w)).is_file()]
        if missing:
            decode_phones(d, num_jobs, missing)
        decoded = read_phones(d, weights)
        for w, st in zip(weights, decoded):
            streams[w].update(st)
        utt2accent.update(read_mapping(d / "utt2accent"))
        utt2spk.update(read_mapping(d / "utt2spk"))
        utts = sorted(decoded[0])
        utt2dur.update(zip(utts, read_durations(d, utts)))
    return streams, utt2accent, utt2spk, utt2dur


def compare_weights(streams: Mapping[float, Mapping[str, str]], systems: Sequence[Sequence[float]],
                    utt2accent: Mapping[str, str], utt2spk: Mapping[str, str], folds: int = 5,
                    repeats: int = 3, utt2dur: Optional[Mapping[str, float]] = None,
                    rate_scales: Sequence[float] = (RATE_SCALE,)) -> Dict[str, CvResult]:
    """``cross_validate`` of each set of language weights in ``systems`` with each speaking-rate
    weight of ``rate_scales`` (0: no rate; ``utt2dur`` needed otherwise), the same folds for all,
    keyed ``"2 + 0.5, rate 0.3"``; ``streams`` etc. as :func:`pooled_decodings` returns them."""
    utts = sorted(utt2accent)
    if utt2dur is None and any(r > 0 for r in rate_scales):
        raise ValueError("speaking-rate weights above 0 need the utterances' durations (utt2dur)")
    durations = None if utt2dur is None else [utt2dur[u] for u in utts]
    return {f"{' + '.join(f'{w:g}' for w in weights)}, rate {rate:g}":
            cross_validate(utts, [[streams[w][u] for u in utts] for w in weights], utt2accent, utt2spk, folds,
                           repeats, durations, rate)
            for weights in systems for rate in rate_scales}
