"""The phonotactic system as a recipe experiment: phone strings of data dirs (one
``text.phone_rec_lw<W>`` per language weight W), a classifier trained on the training set, decode
directories like any accent model's, with each speaker scored on its pooled phone counts
(``speaker_scores.tsv``)."""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import List, Mapping, Sequence

import numpy as np

from accent.data.kaldi_dir import (DataDirError, read_durations, read_list, read_mapping, write_list, write_mapping,
                                   write_text_atomic)

from .classifier import RATE_SCALE, PhonotacticClassifier

log = logging.getLogger(__name__)

# two decodings: the recogniser's usual weight and one that trusts the acoustics more (what an
# accented speaker said rather than what US English would predict); together they gained 3.6 points
# per segment and 1.8 per speaker over the first alone in speaker-grouped CV on SAA-dev's train
# speakers (accent.bin.bench_phonotactic, README)
LANGUAGE_WEIGHTS = (2.0, 0.5)


def phones_file(language_weight: float) -> str:
    """The data dir file of one decoding (Kaldi text layout: ``<utt> <recognised phones>``)."""
    return f"text.phone_rec_lw{float(language_weight):g}"


def decode_phones(data_dir: Path, num_jobs: int = 1, language_weights: Sequence[float] = LANGUAGE_WEIGHTS) -> List[Path]:
    """Write ``<data_dir>/text.phone_rec_lw<W>`` for every utterance of its wav.scp and each
    language weight W (``num_jobs`` processes, each file read once)."""
    from functools import partial

    from .recognizer import recognize_entry

    data_dir = Path(data_dir)
    wavs = read_mapping(data_dir / "wav.scp")
    if not wavs:
        raise DataDirError(f"{data_dir / 'wav.scp'}: no utterances")
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max(1, int(num_jobs))) as pool:
        decoded = list(pool.map(partial(recognize_entry, language_weights=tuple(language_weights)), wavs.values(),
                                chunksize=8))
    outs = []
    for k, lw in enumerate(language_weights):
        phones = {u: d[k] for u, d in zip(wavs, decoded)}
        out = data_dir / phones_file(lw)
        write_mapping(out, phones)  # an utterance with no phone recognised keeps an empty line
        empty = sum(1 for p in phones.values() if not p)
        log.info("%s: %d utterances%s", out, len(phones), f" ({empty} with no phone recognised)" if empty else "")
        outs.append(out)
    log.info("%s: phone recognition at language weights %s in %.1f s", data_dir,
             " ".join(f"{w:g}" for w in language_weights), time.perf_counter() - t0)
    return outs


def read_phones(data_dir: Path, language_weights: Sequence[float]) -> List[dict]:
    """One ``{utt: phones}`` per language weight; every decoding must cover the same utterances."""
    streams = []
    for lw in language_weights:
        path = Path(data_dir) / phones_file(lw)
        if not path.is_file():
            raise DataDirError(f"{path}: missing (accent.bin.decode_phones --language-weights {lw:g} writes it)")
        streams.append(read_mapping(path, allow_empty_value=True))
    for lw, st in zip(language_weights[1:], streams[1:]):
        if set(st) != set(streams[0]):
            raise DataDirError(f"{Path(data_dir) / phones_file(lw)}: other utterances than "
                               f"{phones_file(language_weights[0])} (decode the set again)")
    return streams


def train_phonotactic(train_dir: Path, exp_dir: Path, score_sets: Mapping[str, Path],
                      language_weights: Sequence[float] = LANGUAGE_WEIGHTS,
                      rate_scale: float = RATE_SCALE) -> PhonotacticClassifier:
    """Fit on ``train_dir`` (labels of utt2accent, speakers of utt2spk for the CV folds, durations of
    utt2dur for the speaking rate unless ``rate_scale`` is 0), write
    ``exp_dir/{model.json,accents,results.json}`` and a decode directory per set of ``score_sets``."""
    from accent.evaluation.predictions import Decoded, write_decode_dir

    train_dir, exp_dir = Path(train_dir), Path(exp_dir)
    t0 = time.perf_counter()
    labels = read_list(train_dir / "accents")
    streams = read_phones(train_dir, language_weights)
    u2a, u2s = read_mapping(train_dir / "utt2accent"), read_mapping(train_dir / "utt2spk")
    utts = sorted(streams[0])
    durations = read_durations(train_dir, utts) if rate_scale > 0 else None
    model = PhonotacticClassifier.fit([[st[u] for u in utts] for st in streams], [u2a[u] for u in utts],
                                      [u2s[u] for u in utts], labels, durations=durations, rate_scale=rate_scale)
    exp_dir.mkdir(parents=True, exist_ok=True)
    model.save(exp_dir / "model.json")
    write_list(exp_dir / "accents", labels)
    train_time = time.perf_counter() - t0
    log.info("phonotactic classifier: %d n-grams in %d decoding(s), C = %s (speaker-grouped CV), %.1f s",
             sum(len(v) for v in model.vocabularies), model.num_streams, model.c, train_time)
    for name, d in score_sets.items():
        d = Path(d)
        set_streams = read_phones(d, language_weights)
        set_utts = sorted(set_streams[0])
        texts = [[st[u] for u in set_utts] for st in set_streams]
        set_durations = read_durations(d, set_utts) if model.uses_durations else None
        lp = model.log_posteriors(texts, set_durations)
        refs = None
        if (d / "utt2accent").is_file():
            a = read_mapping(d / "utt2accent")
            refs = [a[u] for u in set_utts]
        utt2spk = speaker_scores = None
        if (d / "utt2spk").is_file():
            spk = read_mapping(d / "utt2spk")
            missing = [u for u in set_utts if u not in spk]
            if missing:
                raise DataDirError(f"{d / 'utt2spk'}: no entry for {missing[0]} ({len(missing)} utterances)")
            utt2spk = {u: spk[u] for u in set_utts}
            speaker_scores = model.speaker_scores(texts, [utt2spk[u] for u in set_utts], set_durations)
        write_decode_dir(exp_dir / f"decode_{name}", name, Decoded(
            utts=set_utts, refs=refs, hyps=[labels[int(k)] for k in lp.argmax(1)], posteriors=np.exp(lp),
            embeddings=None, labels=labels, log_posteriors=lp, utt2spk=utt2spk, speaker_scores=speaker_scores),
            source=str(exp_dir))
    write_text_atomic(exp_dir / "results.json", json.dumps({
        "task": "accent", "method": "phonotactic", "config": "phonotactic (pocketsphinx en-us phones, 1-3 gram LR)",
        "language_weights": [float(w) for w in language_weights], "rate_scale": float(rate_scale),
        "train_time_s": train_time,
        "params": {"total": model.num_parameters, "trainable": model.num_parameters},
        "C": model.c}, indent=2) + "\n")
    (exp_dir / ".done").touch()
    return model
