"""``AccentRecognizer``: audio in, accent out, for people who do not run the recipe.

    from accent import AccentRecognizer
    r = AccentRecognizer.from_pretrained("exp/sarnet_circle")     # or a .pt, model.onnx, ...
    p = r.predict("x.wav")            # p.label, p.posteriors {label: prob}, p.embedding

Pipeline: audio (any rate, any channels; :mod:`accent.inference.audio`) -> Kaldi FBank with the
options the model was trained on -> the inference graph (CMVN, model, softmax) of one of three
backends (:mod:`accent.inference.backends`).  A waveform-in model (``model_wav.onnx``) computes the
FBank itself: it is given the samples, and then neither torch nor any feature code is loaded.

* Long audio is cut into near-equal chunks of at most ``chunk_seconds`` of FBank frames (default
  20 s, beyond the AESRC utterances the models were trained on; memory and attention cost grow
  with length), each scored alone; the file's posteriors are the duration-weighted mean of the
  chunks' posteriors (and so is its embedding).  Weighting by duration counts every second of
  audio alike; averaging probabilities rather than multiplying them keeps the result calibrated
  like a single chunk's, since chunks of one speaker are not independent evidence.  A waveform-in
  model is given each chunk's samples (those of its frames), so it sees the same frames as a
  features-in one.
* Files longer than ``stream_seconds`` (default 60 s; plain files, not ``wav.scp`` pipes) are never
  held whole: they are decoded and resampled block by block and cut into the same chunks as above
  (their count is known from the header; :func:`accent.inference.audio.stream_chunks`, the same
  samples as the whole file), which are scored ``batch_size`` at a time, only the chunks'
  posteriors being kept: memory does not grow with the file's length.
* Input that cannot be scored yields a :class:`Prediction` with ``status`` and ``message`` instead
  of an exception: ``silent`` (RMS below ``silence_db``, default -60 dBFS), ``too_short`` (fewer
  FBank frames than the model's ``min_frames``: the encoder's own need and at least 0.25 s), and
  in ``predict_many`` also ``error`` (unreadable audio; ``predict`` raises ``AudioError`` then).
* ``predict_many`` batches chunks of similar length across files (``batch_size`` chunks a batch).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from accent.data.audio import AudioError
from accent.export.model_file import FEATS, SAMPLES, frames_are_samples, input_kind
from accent.features.fbank_config import FbankConfig

from .audio import (Audio, StreamInfo, as_unit_scale, chunk_sizes, chunk_spans, load_audio, stream_chunks,
                    stream_info, to_model_rate)
from .backends import open_model

log = logging.getLogger(__name__)

Input = Union[str, Path, np.ndarray]


@dataclass
class Prediction:
    """The accent of one input; ``label`` is None unless ``status`` is ``ok``."""

    id: str
    label: Optional[str] = None
    posteriors: Dict[str, float] = field(default_factory=dict)
    embedding: Optional[np.ndarray] = None
    duration: float = 0.0
    notes: List[str] = field(default_factory=list)
    status: str = "ok"  # ok | silent | too_short | error
    message: Optional[str] = None
    chunks: int = 0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self, embedding: bool = False) -> Dict[str, Any]:
        out = {"id": self.id, "accent": self.label, "posteriors": self.posteriors, "duration": round(self.duration, 3),
               "chunks": self.chunks, "notes": self.notes, "status": self.status, "message": self.message}
        if embedding:
            out["embedding"] = None if self.embedding is None else [float(x) for x in self.embedding]
        return out


@dataclass
class _Item:
    """A prepared input: its prediction so far and the chunks still to score, as (the backend's
    input: FBank frames or samples, number of FBank frames)."""

    prediction: Prediction
    chunks: List[Tuple[np.ndarray, int]] = field(default_factory=list)
    scores: List[Tuple[np.ndarray, np.ndarray, int]] = field(default_factory=list)


class AccentRecognizer:
    def __init__(self, backend, chunk_seconds: float = 20.0, silence_db: float = -60.0,
                 stream_seconds: float = 60.0, block_seconds: float = 30.0):
        self.backend = backend
        self.stream_seconds, self.block_seconds = float(stream_seconds), float(block_seconds)
        self.meta = backend.meta
        self.labels: List[str] = list(self.meta["labels"])
        self.frontend = FbankConfig.from_dict(self.meta["frontend"])
        self.min_frames = int(self.meta["min_frames"])
        self.sample_rate = self.frontend.sample_rate
        self.silence_db = float(silence_db)
        # feats: the FBank is computed here; samples (B, S, 1) or waveform (B, S): given the samples
        self.input = input_kind(self.meta)
        self.on_samples = frames_are_samples(self.meta)  # a model trained on samples: its frames are samples
        frames_per_s = self.sample_rate if self.on_samples else 1000.0 / self.frontend.frame_shift_ms
        self.chunk_frames = int(round(chunk_seconds * frames_per_s))
        if self.chunk_frames < 2 * self.min_frames:  # the chunks of a long file must each be scorable
            raise ValueError(f"chunk_seconds {chunk_seconds} is too short for this model: at least "
                             f"{2 * self.min_frames / frames_per_s:.2f} s")
        self.notes = [self.meta["frontend_note"]] if self.meta.get("frontend_note") else []
        for note in self.notes:
            log.warning("%s: %s", self.meta.get("source"), note)

    @classmethod
    def from_pretrained(cls, path: Union[str, Path], device: str = "cpu", threads: Optional[int] = None,
                        checkpoint: Optional[str] = None, **kwargs: Any) -> "AccentRecognizer":
        """From an experiment dir (``avg_N.pt`` if the config averages, else ``best.pt``; or
        ``checkpoint``), a ``.pt`` checkpoint, an exported TorchScript file or an ``.onnx`` file."""
        return cls(open_model(path, device, threads, checkpoint), **kwargs)

    @property
    def min_seconds(self) -> float:
        f = self.frontend
        if self.on_samples:
            return self.min_frames / self.sample_rate
        return ((self.min_frames - 1) * f.frame_shift_ms + f.frame_length_ms) / 1000.0

    # -- preparing one input ------------------------------------------------------------------------
    def _prepare(self, key: str, source: Input, sample_rate: Optional[int] = None) -> _Item:
        pred = Prediction(id=key)
        item = _Item(pred)
        try:
            if isinstance(source, np.ndarray):
                if sample_rate is None:
                    raise ValueError("predict(samples) needs the sample_rate of the samples")
                samples, notes = to_model_rate(as_unit_scale(source, key), int(sample_rate), self.sample_rate)
                audio = Audio(samples, self.sample_rate, notes)
            else:
                audio = load_audio(str(source), self.sample_rate)
        except AudioError as e:
            pred.status, pred.message = "error", str(e)
            return item
        pred.duration, pred.notes = audio.duration, list(audio.notes)
        if self._silent(pred, float(np.sum(np.square(audio.samples, dtype=np.float64))), len(audio.samples)):
            return item
        frames = len(audio.samples) if self.on_samples else self.frontend.num_frames(len(audio.samples))
        if frames < self.min_frames:
            pred.status = "too_short"
            pred.message = (f"{key}: too short ({audio.duration:.2f} s, {frames} feature frames); the model "
                            f"needs at least {self.min_seconds:.2f} s ({self.min_frames} frames)")
            return item
        sizes = chunk_sizes(frames, self.chunk_frames)
        if self.input == FEATS:
            feats = self._fbank(audio.samples)
            item.chunks = list(zip(np.split(feats, np.cumsum(sizes)[:-1]), sizes))
        elif len(sizes) == 1:
            item.chunks = [(self._layout(audio.samples), frames)]
        else:
            item.chunks = [(self._layout(audio.samples[lo:hi]), n) for (lo, hi), n in zip(self._spans(sizes), sizes)]
        pred.chunks = len(item.chunks)
        return item

    def _fbank(self, samples: np.ndarray) -> np.ndarray:
        from accent.features.fbank import compute_fbank  # torch: only for features-in models

        return compute_fbank(samples, self.sample_rate, self.frontend)

    def _layout(self, samples: np.ndarray) -> np.ndarray:
        """A chunk's samples as the backend takes them: FBank frames, (S, 1) or (S,)."""
        if self.input == FEATS:
            return self._fbank(samples)
        return samples[:, None] if self.input == SAMPLES else samples

    def _spans(self, sizes: List[int]) -> List[Tuple[int, int]]:
        return chunk_spans(sizes, self.frontend, self.on_samples)

    def _silent(self, pred: Prediction, sumsq: float, samples: int) -> bool:
        rms = math.sqrt(sumsq / samples) if samples else 0.0
        level = 20.0 * math.log10(rms) if rms > 0 else -math.inf
        if level < self.silence_db:
            pred.status = "silent"
            pred.message = (f"{pred.id}: silent (RMS {level:.1f} dBFS, below {self.silence_db:g} dBFS): "
                            "no accent to recognise")
        return pred.status == "silent"

    def _to_stream(self, source: Input) -> Optional[StreamInfo]:
        """The header of ``source`` if it is a plain file long enough to be streamed."""
        if isinstance(source, np.ndarray) or not (self.frontend.snip_edges or self.on_samples):
            return None
        info = stream_info(str(source), self.sample_rate)
        return info if info is not None and info.duration > self.stream_seconds else None

    def _stream(self, key: str, info: StreamInfo, batch_size: int) -> Prediction:
        """Score a long file block by block (see the module docstring): the chunks of
        :meth:`_prepare`, made and scored ``batch_size`` at a time."""
        pred = Prediction(id=key, duration=info.samples / self.sample_rate, notes=list(info.notes))
        item = _Item(pred)
        sizes = chunk_sizes(info.samples if self.on_samples else self.frontend.num_frames(info.samples),
                            self.chunk_frames)
        stats: Dict[str, float] = {}
        try:
            for samples, n in zip(stream_chunks(info, self.sample_rate, self._spans(sizes), self.block_seconds, stats),
                                  sizes):
                item.chunks.append((self._layout(samples), n))
                if len(item.chunks) == batch_size:
                    self._score([item], batch_size)
                    item.chunks = []
        except AudioError as e:
            pred.status, pred.message = "error", str(e)
            return pred
        self._score([item], batch_size)
        pred.chunks = len(sizes)
        if self._silent(pred, stats.get("sumsq", 0.0), int(stats.get("samples", 0))):
            return pred
        return self._finish(item)

    # -- scoring ------------------------------------------------------------------------------------
    def _score(self, items: Sequence[_Item], batch_size: int) -> None:
        """Score every chunk of ``items``, in batches of chunks of similar length."""
        chunks = [(len(c), i, j) for i, it in enumerate(items) for j, (c, _) in enumerate(it.chunks)]
        chunks.sort(reverse=True)  # longest first: a too-big batch fails at once, not at the end
        for start in range(0, len(chunks), batch_size):
            group = chunks[start:start + batch_size]
            first = items[group[0][1]].chunks[group[0][2]][0]
            x = np.zeros((len(group), group[0][0], *first.shape[1:]), np.float32)  # frames or samples
            for row, (n, i, j) in enumerate(group):
                x[row, :n] = items[i].chunks[j][0]
            lengths = np.array([n for n, _, _ in group], dtype=np.int64)
            post, emb = self.backend(x, lengths)
            for row, (_, i, j) in enumerate(group):
                items[i].scores.append((post[row], emb[row], items[i].chunks[j][1]))

    def _finish(self, item: _Item) -> Prediction:
        pred = item.prediction
        if not item.scores:
            return pred
        weights = np.array([n for _, _, n in item.scores], dtype=np.float64)
        weights /= weights.sum()
        post = sum(w * p for w, (p, _, _) in zip(weights, item.scores))
        pred.embedding = sum(w * e for w, (_, e, _) in zip(weights, item.scores)).astype(np.float32)
        pred.posteriors = {lab: float(p) for lab, p in zip(self.labels, post)}
        pred.label = self.labels[int(np.argmax(post))]
        item.chunks, item.scores = [], []
        return pred

    # -- public -------------------------------------------------------------------------------------
    def predict(self, source: Input, sample_rate: Optional[int] = None) -> Prediction:
        """The accent of a file, a wav.scp entry, or samples (with their ``sample_rate``)."""
        key = "<samples>" if isinstance(source, np.ndarray) else str(source)
        info = self._to_stream(source)
        if info is not None:
            pred = self._stream(key, info, 8)
            if pred.status == "error":
                raise AudioError(pred.message)
            return pred
        item = self._prepare(key, source, sample_rate)
        if item.prediction.status == "error":
            raise AudioError(item.prediction.message)
        self._score([item], 1)
        return self._finish(item)

    def predict_many(self, inputs: Union[Mapping[str, str], Iterable[Input]], batch_size: int = 8,
                     progress: bool = False, window: int = 256) -> Iterator[Prediction]:
        """Predictions in input order; ``inputs``: paths, or {id: path or wav.scp entry}.

        Inputs are prepared ``window`` at a time (bounded memory) and their chunks scored in
        batches of ``batch_size``; unreadable inputs give ``status == "error"``.
        """
        pairs = list(inputs.items()) if isinstance(inputs, Mapping) else [(str(x), x) for x in inputs]
        with _progress_bar(len(pairs), progress) as bar:
            for start in range(0, len(pairs), window):
                items: List[_Item] = []
                for key, source in pairs[start:start + window]:
                    info = self._to_stream(source)
                    if info is not None:  # a long file: the inputs before it first, in order
                        self._score(items, batch_size)
                        yield from (self._finish(item) for item in items)
                        items = []
                        yield self._stream(key, info, batch_size)
                    else:
                        items.append(self._prepare(key, source))
                    bar.update(1)
                self._score(items, batch_size)
                for item in items:
                    yield self._finish(item)


class _NoBar:
    def __enter__(self) -> "_NoBar":
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def update(self, n: int = 1) -> None:
        return None


def _progress_bar(total: int, show: bool):
    """A tqdm bar when shown (tqdm's import alone takes a third of accent-id's start-up)."""
    if not show:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit="file", dynamic_ncols=True)
