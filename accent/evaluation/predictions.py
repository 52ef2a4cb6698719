"""A trained accent model's predictions on a data dir (posteriors, embeddings) and their files.

Kaldi would call this decoding (``decode_<set>`` directories); there is no search here, one
forward pass per utterance.

The model normalises the features itself (its normaliser holds the statistics it was trained
with) and runs its inference function (``AccentModel.predict``, which export traces), in eval
mode.  A model trained on samples (``data.features: waveform``: the ``ssl`` encoder) reads the
set's ``wav.scp`` instead of its ``feats.scp`` (:class:`accent.dataset.waveform.WaveformDataset`).
``predictions.tsv`` (natural-log posteriors,
``logp_<label>`` columns, 8 significant digits: sums over a speaker's utterances stay exact where
rounded probabilities would be 0), the Kaldi ``embeddings.ark/scp`` and the set's ``utt2spk`` are
the outputs of a decode directory, with ``speaker_scores.tsv`` for a system that scores a
speaker's utterances together (the phonotactic system); the scores, per utterance and per speaker,
are computed from them (see :mod:`accent.evaluation.scoring`).
"""

from __future__ import annotations

import io
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence

import kaldiio
import numpy as np
import torch

from accent.data.kaldi_dir import DataDirError, read_mapping, write_mapping, write_text_atomic
from accent.dataset import BucketBatchSampler, FeatsDataset, make_loader
from accent.dataset.waveform import WaveformDataset, takes_waveform
from accent.features.fbank import FbankConfig
from accent.features.frontend import check_same_frontend, recorded_frontend

from .aggregate import GROUP_SCORES, read_group_scores, write_group_scores
from .score_table import LOGP, read_score_table, write_score_table
from .subsample import subsample

log = logging.getLogger(__name__)

NO_LABEL = "-"  # the reference column of an unlabelled set


@dataclass
class Decoded:
    """One set's outputs, in ``feats.scp`` order (or the subset's)."""

    utts: List[str]
    refs: Optional[List[str]]        # None: the set has no utt2accent
    hyps: List[str]
    posteriors: np.ndarray           # (N, num_labels)
    embeddings: Optional[np.ndarray]  # (N, embed_dim); None for systems without one
    labels: List[str]                # the model's labels (posterior columns)
    log_posteriors: Optional[np.ndarray] = None   # (N, num_labels); None: log of ``posteriors``
    utt2spk: Optional[Dict[str, str]] = None      # of the decoded utterances (None: the set has none)
    # a system's own per-speaker scores (aggregate.group_decisions); None: the summed log-posteriors
    speaker_scores: Optional[Dict[str, np.ndarray]] = None

    def log_post(self) -> np.ndarray:
        from .aggregate import log_posteriors
        return self.log_posteriors if self.log_posteriors is not None else log_posteriors(self.posteriors)


def check_frontend(ckpt: Mapping[str, Any], data_dir: Path) -> None:
    """Refuse features made with other FBank options than the model's training features."""
    if not ckpt.get("frontend"):
        log.info("the checkpoint does not record its FBank options (trained before they were stored): "
                 "assuming %s was made like its training features", data_dir)
    check_same_frontend(ckpt.get("frontend"), recorded_frontend(data_dir),
                        f"{Path(data_dir) / 'conf/fbank.yaml'}: the features were made with other FBank options "
                        "than the model's training features", DataDirError)


def model_batches(ckpt: Mapping[str, Any], data_dir: Path, device: torch.device,
                  labels: Optional[Sequence[str]] = None, max_utts: Optional[int] = None, seed: int = 0,
                  max_frames: Optional[int] = None) -> Iterator[Dict[str, Any]]:
    """Batches of ``data_dir``'s features as the checkpoint's model was trained on them (its FBank
    options and input size), by length and not shuffled, ``feats``/``lengths`` on ``device``.

    ``labels``: read ``utt2accent`` where the set has one; ``max_utts``: a seeded subsample;
    ``max_frames``: padded frames per batch (default: the training config's dev batches).  Each
    batch also holds ``index``: the ``feats.scp`` positions of its utterances.
    """
    data_dir = Path(data_dir)
    data_cfg = ckpt["config"]["data"]
    if takes_waveform(ckpt["config"]):  # samples of wav.scp, at the rate of the training audio
        dataset = WaveformDataset(data_dir, FbankConfig.from_dict(ckpt["frontend"]).sample_rate, labels,
                                  require_labels=False, label_source="the checkpoint's label list",
                                  frame_shift_ms=data_cfg.get("frame_shift_ms", 10.0))
    else:
        check_frontend(ckpt, data_dir)
        dataset = FeatsDataset(data_dir, labels, require_labels=False, require_targets=False,
                               label_source="the checkpoint's label list")
        if dataset.feat_dim != int(ckpt["input_dim"]):
            raise DataDirError(f"{data_dir / 'feats.scp'}: {dataset.feat_dim}-dim features, "
                               f"the model takes {ckpt['input_dim']}")
    index = subsample(len(dataset), max_utts, seed)
    if max_frames is None:
        max_frames = int(data_cfg.get("dev_max_frames") or 2 * int(data_cfg["max_frames"]))
    max_frames *= getattr(dataset, "samples_per_frame", 1)  # the budget in samples for waveforms
    sampler = BucketBatchSampler([dataset.lengths[i] for i in index], max_frames,
                                 data_cfg.get("max_batch_size"), shuffle=False)
    # batches of (epoch, dataset index): the sampler works on the subsample's positions
    batches = [[(0, index[j]) for j in b] for b in sampler.all_batches(0)]
    try:
        # any batch list will do as the loader's sampler
        for keys, batch in zip(batches, make_loader(dataset, batches)):  # type: ignore[arg-type]
            batch["index"] = [i for _, i in keys]
            batch["feats"], batch["lengths"] = batch["feats"].to(device), batch["lengths"].to(device)
            yield batch
    finally:
        dataset.close()


@torch.no_grad()
def decode(model: torch.nn.Module, ckpt: Mapping[str, Any], data_dir: Path, device: torch.device,
           max_utts: Optional[int] = None, seed: int = 0) -> Decoded:
    """Predictions of ``model`` (eval mode) on ``data_dir``; ``max_utts``: a seeded subsample."""
    if ckpt.get("task", "accent") != "accent" or not ckpt.get("labels"):
        raise ValueError("not an accent model checkpoint (task "
                         f"{ckpt.get('task')!r}): scoring needs an accent classifier")
    labels = list(ckpt["labels"])
    model.eval()
    utts: List[str] = []
    index: List[int] = []
    refs: List[int] = []  # stays empty for a set without utt2accent
    post: List[np.ndarray] = []
    emb: List[np.ndarray] = []
    for batch in model_batches(ckpt, data_dir, device, labels, max_utts, seed):
        logits, embedding = model.predict(batch["feats"], batch["lengths"])
        utts.extend(batch["utts"])
        index.extend(batch["index"])
        if batch["labels"] is not None:
            refs.extend(batch["labels"].tolist())
        post.append(torch.log_softmax(logits.float(), dim=-1).cpu().numpy())
        emb.append(embedding.float().cpu().numpy())

    order = np.argsort(index)  # back to feats.scp order (the batches are sorted by length)
    log_post = np.concatenate(post)[order]
    utts = [utts[i] for i in order]
    spk_path = Path(data_dir) / "utt2spk"
    utt2spk = None
    if spk_path.is_file():
        spk = read_mapping(spk_path)
        utt2spk = {u: spk[u] for u in utts if u in spk}
        if len(utt2spk) < len(utts):
            raise DataDirError(f"{spk_path}: no entry for {next(u for u in utts if u not in spk)}")
    return Decoded(
        utts=utts,
        refs=[labels[refs[i]] for i in order] if refs else None,
        hyps=[labels[int(k)] for k in log_post.argmax(-1)],
        posteriors=np.exp(log_post),
        embeddings=np.concatenate(emb)[order],
        labels=labels,
        log_posteriors=log_post,
        utt2spk=utt2spk,
    )


# ------------------------------------------------------------------------------------------------
# Files of a decode directory


def decode_dir(exp_dir: Path, set_name: str, checkpoint: str = "best.pt") -> Path:
    """``exp/<name>/decode_<set>`` for ``best.pt``, ``decode_<set>_<stem>`` for another checkpoint."""
    stem = Path(checkpoint).stem
    return Path(exp_dir) / (f"decode_{set_name}" if stem == "best" else f"decode_{set_name}_{stem}")


def write_predictions(path: Path, d: Decoded) -> None:
    """``utt ref hyp <log-posterior per label>`` lines (:mod:`accent.evaluation.score_table`)."""
    refs = d.refs or [NO_LABEL] * len(d.utts)
    write_score_table(path, ["utt", "ref", "hyp"], list(zip(d.utts, refs, d.hyps)), d.labels, d.log_post())


@dataclass
class Predictions:
    utts: List[str]
    refs: Optional[List[str]]
    hyps: List[str]
    labels: List[str]
    log_posteriors: Optional[np.ndarray] = None  # (N, len(labels))


def read_predictions(path: Path) -> Predictions:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found (accent.bin.score writes it)")
    keys, columns, values = read_score_table(path, ["utt", "ref", "hyp"], "a predictions file")
    refs = [k[1] for k in keys]
    labelled = all(r != NO_LABEL for r in refs)
    if all(c.startswith(LOGP) for c in columns):
        labels = [c[len(LOGP):] for c in columns]
    else:  # written before log-posteriors: probabilities rounded to 4 decimals
        from .aggregate import log_posteriors
        labels, values = columns, log_posteriors(values)
    return Predictions([k[0] for k in keys], refs if labelled else None, [k[2] for k in keys], labels, values)


def write_embeddings(ark: Path, utts: Sequence[str], embeddings: np.ndarray) -> Path:
    """Kaldi ``embeddings.ark`` + ``.scp`` (as x-vectors are stored); the scp appears last."""
    ark = Path(ark).absolute()
    tmp = ark.with_name(ark.name + ".tmp")
    scp_buf = io.StringIO()
    kaldiio.save_ark(str(tmp), {u: e.astype(np.float32) for u, e in zip(utts, embeddings)}, scp=scp_buf)
    os.replace(tmp, ark)
    scp = ark.with_suffix(".scp")
    # the scp names the temporary ark; point it at the final one
    write_text_atomic(scp, scp_buf.getvalue().replace(f" {tmp}:", f" {ark}:"))
    return scp


def read_embeddings(scp: Path, utts: Sequence[str]) -> np.ndarray:
    """(len(utts), D) embeddings of ``utts`` from an ``embeddings.scp``."""
    table: Dict[str, np.ndarray] = dict(kaldiio.load_scp(str(scp)))
    missing = [u for u in utts if u not in table]
    if missing:
        raise DataDirError(f"{scp}: no embedding for {missing[0]} ({len(missing)} missing)")
    return np.stack([np.asarray(table[u]) for u in utts])


# ------------------------------------------------------------------------------------------------
# A decode directory as a whole


def up_to_date(outputs: Sequence[Path], sources: Sequence[Path]) -> bool:
    """Every output exists and none is older than any existing source (a rerun can skip)."""
    if not all(Path(p).is_file() for p in outputs):
        return False
    newest = max((Path(s).stat().st_mtime for s in sources if Path(s).exists()), default=0.0)
    return min(Path(p).stat().st_mtime for p in outputs) >= newest


OUTPUTS = ("predictions.tsv", "embeddings.ark", "embeddings.scp")
SCORED_OUTPUTS = ("results.md", "results.csv", "confusion.txt", "confusion.png")


def decode_outputs(out_dir: Path, labelled: bool, with_speakers: bool = False) -> List[Path]:
    names = OUTPUTS + (SCORED_OUTPUTS if labelled else ()) + (("utt2spk",) if with_speakers else ())
    return [Path(out_dir) / f for f in names]


def decode_sources(checkpoint: Path, data_dir: Path) -> List[Path]:
    return [Path(checkpoint), *(Path(data_dir) / f for f in ("feats.scp", "wav.scp", "utt2accent", "utt2spk"))]


def decode_scores(out_dir: Path):
    """The scores of a decode directory (per utterance, and per speaker where it holds an
    ``utt2spk``), or None for an unlabelled set."""
    from .scoring import score_with_speakers

    out_dir = Path(out_dir)
    p = read_predictions(out_dir / "predictions.tsv")
    if p.refs is None:
        return None
    spk = out_dir / "utt2spk"
    utt2spk = read_mapping(spk) if spk.is_file() else None
    return score_with_speakers(p.utts, p.refs, p.hyps, p.labels, p.log_posteriors, utt2spk, str(spk),
                               read_speaker_scores(out_dir, p.labels))


def read_speaker_scores(out_dir: Path, labels: Sequence[str]) -> Optional[Dict[str, np.ndarray]]:
    """A decode directory's own per-speaker scores (``speaker_scores.tsv``), None where it has none."""
    path = Path(out_dir) / GROUP_SCORES
    if not path.is_file():
        return None
    return read_group_scores(path, labels)


def write_decode_dir(out_dir: Path, name: str, d: Decoded, source: str = "") -> None:
    """predictions.tsv, embeddings.ark/scp and, for a labelled set, its scores and confusion matrix."""
    from .plots import plot_confusion
    from .scoring import score_with_speakers, write_set_results

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if d.embeddings is not None:  # None: a system without embeddings (phonotactic, fusion)
        write_embeddings(out_dir / "embeddings.ark", d.utts, d.embeddings)
    if d.utt2spk is not None:
        write_mapping(out_dir / "utt2spk", d.utt2spk)
    elif (out_dir / "utt2spk").exists():
        (out_dir / "utt2spk").unlink()
    if d.speaker_scores is not None:
        if d.utt2spk is None:
            raise ValueError(f"{out_dir}: speaker scores without an utt2spk")
        write_group_scores(out_dir / GROUP_SCORES, d.speaker_scores, d.labels)
    elif (out_dir / GROUP_SCORES).exists():
        (out_dir / GROUP_SCORES).unlink()
    if d.refs is not None:
        s = score_with_speakers(d.utts, d.refs, d.hyps, d.labels, d.log_post(), d.utt2spk,
                                str(out_dir / "utt2spk"), d.speaker_scores)
        write_set_results(out_dir, name, s, source)
        plot_confusion(s, out_dir / "confusion.png", f"{source or name}\n{name}: accuracy {100 * s.accuracy:.2f}%, "
                                                     f"macro {100 * s.macro:.2f}%")
    # last: predictions.tsv is what the summaries read
    write_predictions(out_dir / "predictions.tsv", d)
