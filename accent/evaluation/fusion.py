"""Score-level fusion of accent systems (as language-ID systems are fused): the log-posteriors of
the systems, weighted and summed per utterance, renormalised.

The first system weighs 1; the weight of each other one is chosen on the dev set, from
``WEIGHTS``, as the one with the highest mean log-posterior of the true accent (cross-entropy:
smoother than accuracy on a small dev set), so the test speakers never choose it.  A speaker's
fused score is the same weighted sum of the systems' speaker scores (their summed log-posteriors,
or a system's own, as the phonotactic system's pooled counts give).  The fused
system is written as an experiment of its own (decode directories, ``results.json``), scored and
tabled like the others.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np

from accent.data.kaldi_dir import DataDirError, read_mapping, write_list, write_text_atomic

from .aggregate import group_decisions
from .predictions import Decoded, decode_dir, read_predictions, read_speaker_scores, write_decode_dir

log = logging.getLogger(__name__)

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)


def _normalise(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _system_decode(exp_dir: Path, set_name: str):
    from accent.models.checkpoint import experiment_checkpoint

    try:
        ckpt = experiment_checkpoint(exp_dir).name
    except FileNotFoundError:
        ckpt = "best.pt"  # a system without checkpoints (phonotactic): decode_<set>
    d = decode_dir(exp_dir, set_name, ckpt)
    p = read_predictions(d / "predictions.tsv")
    if p.log_posteriors is None:
        raise DataDirError(f"{d / 'predictions.tsv'}: no log-posteriors to fuse (rescore with accent.bin.score)")
    return d, p


def _speaker_scores(d: Path, p, utt2spk: Mapping[str, str], own: Optional[Dict[str, np.ndarray]]
                    ) -> Dict[str, np.ndarray]:
    """A system's score of each speaker: its own (``speaker_scores.tsv``), else its summed log-posteriors."""
    g = group_decisions(p.utts, p.log_posteriors, utt2spk, p.labels, str(d / "utt2spk"), own)
    return dict(zip(g.groups, g.log_posteriors))


def dev_weights(dev_systems: Sequence) -> List[float]:
    """1 for the first system, then each other's weight from ``WEIGHTS`` by dev cross-entropy, in order."""
    weights = [1.0]
    truth = np.array([dev_systems[0].labels.index(r) for r in dev_systems[0].refs])
    for k in range(1, len(dev_systems)):
        def dev_ll(w: float) -> float:
            z = sum(wi * p.log_posteriors for wi, p in zip(weights + [w], dev_systems[:k + 1]))
            return float(_normalise(z)[np.arange(len(truth)), truth].mean())
        weights.append(max(WEIGHTS, key=dev_ll))
    return weights


def fuse_experiments(exp_dirs: Sequence[Path], out_dir: Path, sets: Sequence[str], dev: str = "dev",
                     weights_from: Optional[Path] = None) -> Dict[str, float]:
    """Fuse the decode directories of ``exp_dirs`` on ``sets`` into ``out_dir``; returns the weights.

    ``weights_from``: an earlier fusion (its ``results.json``) of as many systems whose weights are
    taken instead of chosen, as refitted systems take those their dev-split versions chose (run.sh
    ``--refit``): their dev speakers are training speakers, so no dev choice is left to them."""
    exp_dirs, out_dir = [Path(e) for e in exp_dirs], Path(out_dir)
    if len(exp_dirs) < 2:
        raise ValueError("fusion needs two systems or more")
    decoded = {s: [_system_decode(e, s) for e in exp_dirs] for s in sets}
    for s, systems in decoded.items():
        first = systems[0][1]
        for d, p in systems[1:]:
            if p.utts != first.utts or p.labels != first.labels:
                raise DataDirError(f"{d}: other utterances or labels than {systems[0][0]}; cannot fuse")
    if not decoded:
        raise ValueError("fusion needs at least one set (--sets)")
    if weights_from is not None:
        earlier_file = Path(weights_from) / "results.json"
        if not earlier_file.is_file():
            raise FileNotFoundError(f"{earlier_file}: not found (the fusion whose weights are to be taken)")
        earlier = json.loads(earlier_file.read_text())
        weights = [float(w) for w in earlier.get("weights", [])]
        if len(weights) != len(exp_dirs):
            raise ValueError(f"{earlier_file}: {len(weights)} weights for {len(exp_dirs)} systems")
        chosen_on = f"{earlier.get('weights_chosen_on', '?')} of {weights_from}"
    else:
        if dev not in decoded or decoded[dev][0][1].refs is None:
            raise DataDirError(f"fusion weights are chosen on the labelled set {dev!r}, which was not decoded")
        weights, chosen_on = dev_weights([p for _, p in decoded[dev]]), dev
    names = [e.name for e in exp_dirs]
    log.info("fusion of %s: weights %s (chosen on %s)", " + ".join(names), weights, chosen_on)
    out_dir.mkdir(parents=True, exist_ok=True)
    labels = next(iter(decoded.values()))[0][1].labels
    for s, systems in decoded.items():
        first = systems[0][1]
        lp = _normalise(sum(w * p.log_posteriors for w, (_, p) in zip(weights, systems)))
        spk_file = systems[0][0] / "utt2spk"
        spk = read_mapping(spk_file) if spk_file.is_file() else None
        speaker_scores = None
        own = [read_speaker_scores(d, p.labels) for d, p in systems] if spk is not None else []
        if any(o is not None for o in own):
            # a system with its own speaker scores: the fused speaker score is the weighted sum of
            # each system's (its own, or its summed log-posteriors), as the utterances' are
            per_system = [_speaker_scores(d, p, spk, o) for (d, p), o in zip(systems, own)]
            speaker_scores = {g: sum(w * sc[g] for w, sc in zip(weights, per_system)) for g in per_system[0]}
        write_decode_dir(out_dir / f"decode_{s}", s, Decoded(
            utts=first.utts, refs=first.refs, hyps=[labels[int(k)] for k in lp.argmax(1)], posteriors=np.exp(lp),
            embeddings=None, labels=labels, log_posteriors=lp, utt2spk=spk, speaker_scores=speaker_scores),
            source=str(out_dir))
    write_list(out_dir / "accents", labels)
    results = [json.loads((e / "results.json").read_text()) if (e / "results.json").is_file() else {} for e in exp_dirs]
    params = sum(int((r.get("params") or {}).get("trainable", 0)) for r in results)
    write_text_atomic(out_dir / "results.json", json.dumps({
        "task": "accent", "method": "fusion", "config": "fusion of " + " + ".join(names),
        "systems": [str(e) for e in exp_dirs], "weights": weights, "weights_chosen_on": chosen_on,
        "train_time_s": sum(float(r.get("train_time_s", 0.0)) for r in results),
        "params": {"total": params, "trainable": params}}, indent=2) + "\n")
    (out_dir / ".done").touch()
    return dict(zip(names, weights))
