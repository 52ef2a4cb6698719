"""The phonotactic system as a recipe experiment: phone strings of data dirs (``text.phone_rec``),
a classifier trained on the training set, decode directories like any accent model's."""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Mapping

import numpy as np

from accent.data.kaldi_dir import DataDirError, read_list, read_mapping, write_list, write_mapping, write_text_atomic

from .classifier import PhonotacticClassifier

log = logging.getLogger(__name__)

PHONES_FILE = "text.phone_rec"  # Kaldi text layout: <utt> <recognised phones>


def decode_phones(data_dir: Path, num_jobs: int = 1) -> Path:
    """Write ``<data_dir>/text.phone_rec`` for every utterance of its wav.scp (``num_jobs`` processes)."""
    from .recognizer import recognize_entry

    data_dir = Path(data_dir)
    wavs = read_mapping(data_dir / "wav.scp")
    if not wavs:
        raise DataDirError(f"{data_dir / 'wav.scp'}: no utterances")
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max(1, int(num_jobs))) as pool:
        phones = dict(zip(wavs, pool.map(recognize_entry, wavs.values(), chunksize=8)))
    out = data_dir / PHONES_FILE
    write_mapping(out, phones)  # an utterance with no phone recognised keeps an empty line
    empty = sum(1 for p in phones.values() if not p)
    log.info("%s: %d utterances in %.1f s%s", out, len(phones), time.perf_counter() - t0,
             f" ({empty} with no phone recognised)" if empty else "")
    return out


def read_phones(data_dir: Path):
    path = Path(data_dir) / PHONES_FILE
    if not path.is_file():
        raise DataDirError(f"{path}: missing (accent.bin.decode_phones writes it)")
    return read_mapping(path, allow_empty_value=True)


def train_phonotactic(train_dir: Path, exp_dir: Path, score_sets: Mapping[str, Path]) -> PhonotacticClassifier:
    """Fit on ``train_dir`` (labels of utt2accent, speakers of utt2spk for the CV folds), write
    ``exp_dir/{model.json,accents,results.json}`` and a decode directory per set of ``score_sets``."""
    from accent.evaluation.predictions import Decoded, write_decode_dir

    train_dir, exp_dir = Path(train_dir), Path(exp_dir)
    t0 = time.perf_counter()
    labels = read_list(train_dir / "accents")
    phones, u2a, u2s = read_phones(train_dir), read_mapping(train_dir / "utt2accent"), read_mapping(train_dir / "utt2spk")
    utts = sorted(phones)
    model = PhonotacticClassifier.fit([phones[u] for u in utts], [u2a[u] for u in utts], [u2s[u] for u in utts], labels)
    exp_dir.mkdir(parents=True, exist_ok=True)
    model.save(exp_dir / "model.json")
    write_list(exp_dir / "accents", labels)
    train_time = time.perf_counter() - t0
    log.info("phonotactic classifier: %d n-grams, C = %s (speaker-grouped CV), %.1f s", len(model.vocabulary),
             model.c, train_time)
    for name, d in score_sets.items():
        d = Path(d)
        ph = read_phones(d)
        set_utts = sorted(ph)
        lp = model.log_posteriors([ph[u] for u in set_utts])
        refs = None
        if (d / "utt2accent").is_file():
            a = read_mapping(d / "utt2accent")
            refs = [a[u] for u in set_utts]
        spk = read_mapping(d / "utt2spk") if (d / "utt2spk").is_file() else None
        write_decode_dir(exp_dir / f"decode_{name}", name, Decoded(
            utts=set_utts, refs=refs, hyps=[labels[int(k)] for k in lp.argmax(1)], posteriors=np.exp(lp),
            embeddings=None, labels=labels, log_posteriors=lp,
            utt2spk={u: spk[u] for u in set_utts} if spk else None), source=str(exp_dir))
    write_text_atomic(exp_dir / "results.json", json.dumps({
        "task": "accent", "method": "phonotactic", "config": "phonotactic (pocketsphinx en-us phones, 1-3 gram LR)",
        "train_time_s": train_time, "params": {"total": model.num_parameters, "trainable": model.num_parameters},
        "C": model.c}, indent=2) + "\n")
    (exp_dir / ".done").touch()
    return model
