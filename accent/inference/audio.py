"""Audio for inference: whatever the user has, made into what the model was trained on.

Any file libsndfile reads (wav, flac, ogg, ...), or a Kaldi ``wav.scp`` entry (a path or a command
ending in ``|``), is decoded, down-mixed to mono (the mean of the channels) and resampled with a
polyphase filter to the model's FBank sample rate.  Each conversion is reported as a note
("stereo -> mono", "44100 Hz -> 16000 Hz") so that the user knows the input was not what the
model expects, and so is a WAV file shorter than its header says.  Problems raise
:class:`AudioError` naming the input.

Long files are not decoded whole: :func:`stream_chunks` reads them in blocks, resamples each
block with enough context on both sides (``resample_poly``'s filter reach, at block starts aligned
to its decimation phase) and cuts out the samples of each scoring chunk (a range of FBank frames:
its frames' samples, the overlap of its first frame with the last one of the chunk before
included), carrying the rest over to the next block.  A chunk's FBank equals those frames of the
whole file's (Kaldi frames with ``snip_edges`` are functions of their own 25 ms of samples), with
memory bounded by the block size.

Only numpy and soundfile are imported here (scipy when audio has to be resampled): accent-id with a
waveform-in ONNX model needs no torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Tuple

import numpy as np
import soundfile as sf

from accent.data.audio import AudioError, decode_wav_scp_entry, truncation
from accent.data.kaldi_dir import read_mapping
from accent.features.fbank_config import INT16_SCALE, FbankConfig

AUDIO_SUFFIXES = (".wav", ".flac")


@dataclass
class Audio:
    """Mono float32 samples in [-1, 1] at ``sample_rate``, and what was done to get them."""

    samples: np.ndarray
    sample_rate: int
    notes: List[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


def conversion_notes(channels: int, rate: int, target_rate: int) -> List[str]:
    notes = []
    if channels > 1:
        notes.append(f"{'stereo' if channels == 2 else f'{channels} channels'} -> mono")
    if rate != target_rate:
        notes.append(f"{rate} Hz -> {target_rate} Hz")
    return notes


def _ratio(rate: int, target_rate: int) -> Tuple[int, int]:
    g = math.gcd(int(rate), int(target_rate))
    return int(target_rate) // g, int(rate) // g


def _mono(samples: np.ndarray) -> np.ndarray:
    samples = np.asarray(samples, dtype=np.float32)
    return samples.mean(axis=1) if samples.ndim == 2 else samples


def resample_poly(samples: np.ndarray, up: int, down: int) -> np.ndarray:
    from scipy.signal import resample_poly as resample  # its import costs more than the rest of accent-id's

    return resample(samples, up, down)


# float samples beyond this are on an integer scale, not in [-1, 1] (clipped float audio stays near 1)
INT_SCALE_PEAK = 2.0


def as_unit_scale(samples: np.ndarray, source: str) -> np.ndarray:
    """Samples in [-1, 1]: integer PCM is divided by its full scale (int16: 32768); float samples
    far beyond 1 are refused, as features of them would silently give wrong accents."""
    samples = np.asarray(samples)
    if np.issubdtype(samples.dtype, np.integer):
        return samples.astype(np.float32) / np.float32(-np.iinfo(samples.dtype).min)
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak > INT_SCALE_PEAK:
        raise AudioError(f"{source}: samples reach {peak:g}, expected floats in [-1, 1] (int16 samples as floats? "
                         f"divide them by {INT16_SCALE:g})")
    return samples


def to_model_rate(samples: np.ndarray, rate: int, target_rate: int) -> Tuple[np.ndarray, List[str]]:
    """Down-mix (frames, channels) or (frames,) samples to mono and resample to ``target_rate``."""
    channels = samples.shape[1] if np.ndim(samples) == 2 else 1
    samples = _mono(samples)
    if rate != target_rate:
        samples = resample_poly(samples, *_ratio(rate, target_rate)).astype(np.float32)
    return samples, conversion_notes(channels, rate, target_rate)


def truncation_note(entry: str) -> Optional[str]:
    """For a WAV file shorter than its header says (libsndfile decodes what there is)."""
    if entry.endswith("|"):
        return None
    try:
        cut = truncation(sf.info(entry).extra_info)
    except (sf.LibsndfileError, RuntimeError):
        return None
    return f"{cut}: scored what there is" if cut else None


def load_audio(entry: str, target_rate: int) -> Audio:
    """Decode a path or wav.scp value and bring it to mono ``target_rate``; errors name ``entry``."""
    entry = str(entry).strip()
    samples, rate = decode_wav_scp_entry(entry)
    mono, notes = to_model_rate(samples, rate, target_rate)
    cut = truncation_note(entry)
    return Audio(mono, target_rate, ([cut] if cut else []) + notes)


# -- long files, block by block ----------------------------------------------------------------------


@dataclass
class StreamInfo:
    """What the header of a file to stream says, at the model's rate."""

    path: str
    rate: int
    channels: int
    frames: int             # samples per channel in the file
    samples: int            # after resampling to the model's rate
    notes: List[str]

    @property
    def duration(self) -> float:
        return self.frames / self.rate


def stream_info(entry: str, target_rate: int) -> Optional[StreamInfo]:
    """Header facts of a plain audio file (None for a pipe or a file libsndfile cannot open)."""
    entry = str(entry).strip()
    if entry.endswith("|") or not Path(entry).is_file():
        return None
    try:
        info = sf.info(entry)
    except (sf.LibsndfileError, RuntimeError):
        return None
    up, down = _ratio(info.samplerate, target_rate)
    cut = truncation_note(entry)
    notes = ([cut] if cut else []) + conversion_notes(info.channels, info.samplerate, target_rate)
    return StreamInfo(entry, int(info.samplerate), int(info.channels), int(info.frames),
                      -(-int(info.frames) * up // down), notes)


def _blocks(info: StreamInfo, block: int) -> Iterator[np.ndarray]:
    """Mono float32 blocks of the file; :class:`AudioError` if it holds fewer samples than its header."""
    done = 0
    try:
        with sf.SoundFile(info.path) as f:
            while True:
                x = f.read(block, dtype="float32", always_2d=True)
                if not len(x):
                    break
                done += len(x)
                yield _mono(x)
    except (sf.LibsndfileError, RuntimeError) as e:
        raise AudioError(f"{info.path}: cannot decode audio ({e})") from None
    if done < info.frames:
        raise AudioError(f"{info.path}: truncated audio (decoded {done} of {info.frames} samples)")


def _resampled(blocks: Iterator[np.ndarray], info: StreamInfo, target_rate: int) -> Iterator[np.ndarray]:
    """``resample_poly`` of the whole signal, block by block: each output stretch is computed from
    its input with ``margin`` samples of context either side (the filter's half length), starting
    at input positions that are multiples of ``down``, so it equals the whole-signal output."""
    if info.rate == target_rate:
        yield from blocks
        return
    up, down = _ratio(info.rate, target_rate)
    half = 10 * max(up, down)  # resample_poly's filter half length, in upsampled samples
    margin = -(-(half // up + 2) // down) * down
    buf = np.zeros(0, np.float32)
    start = 0  # the input index of buf[0]
    done = 0   # input samples whose output has been yielded (a multiple of down)
    for x in blocks:
        buf = np.concatenate([buf, x])
        end = (start + len(buf) - margin) // down * down  # outputs up to here have their right context
        if end <= done:
            continue
        lo = max(0, done - margin)
        y = resample_poly(buf[lo - start:end + margin - start], up, down)
        off = (done - lo) * up // down
        yield y[off:off + (end - done) * up // down].astype(np.float32)
        done = end
        keep = max(0, done - margin)
        buf, start = buf[keep - start:], keep
    lo = max(0, done - margin)
    y = resample_poly(buf[lo - start:], up, down)
    off = (done - lo) * up // down
    yield y[off:off + info.samples - done * up // down].astype(np.float32)


def chunk_sizes(frames: int, max_frames: int) -> List[int]:
    """Frames per chunk when ``frames`` are cut into near-equal chunks of at most ``max_frames``
    (``np.array_split``'s sizes: the longer ones first)."""
    pieces = max(1, -(-frames // max_frames))
    q, r = divmod(frames, pieces)
    return [q + 1] * r + [q] * (pieces - r)


def chunk_spans(sizes: Iterable[int], config: FbankConfig, frames_are_samples: bool = False) -> List[Tuple[int, int]]:
    """[start, end) samples of each chunk of ``sizes`` frames: all its frames' samples (FBank frames,
    or samples for a model trained on samples)."""
    length, shift = (1, 1) if frames_are_samples else config.window_samples()
    if not (config.snip_edges or frames_are_samples):  # edge frames reflect the file's ends
        raise ValueError("the model's FBank has snip_edges: false, so audio longer than one chunk (--chunk-seconds) "
                         "cannot be cut into chunks of samples (nor streamed)")
    spans, first = [], 0
    for n in sizes:
        spans.append((first * shift, (first + n - 1) * shift + length))
        first += n
    return spans


def stream_chunks(info: StreamInfo, sample_rate: int, spans: List[Tuple[int, int]], block_seconds: float = 30.0,
                  stats: Optional[Dict[str, float]] = None) -> Iterator[np.ndarray]:
    """The ``sample_rate`` samples of each [start, end) of ``spans`` (:func:`chunk_spans`), block
    by block; :class:`AudioError` if the file holds fewer than its header promised.  ``stats`` (if
    given) receives ``sumsq`` and ``samples`` of the whole resampled signal."""
    buf, start, k = np.zeros(0, np.float32), 0, 0  # start: the sample index of buf[0]
    block = max(1, int(block_seconds * info.rate))
    for x in _resampled(_blocks(info, block), info, sample_rate):
        if stats is not None:
            stats["sumsq"] = stats.get("sumsq", 0.0) + float(np.sum(np.square(x, dtype=np.float64)))
            stats["samples"] = stats.get("samples", 0) + len(x)
        buf = np.concatenate([buf, x])
        while k < len(spans) and spans[k][1] <= start + len(buf):
            lo, hi = spans[k]
            yield buf[lo - start:hi - start]
            k += 1
            keep = spans[k][0] if k < len(spans) else start + len(buf)
            buf, start = buf[keep - start:], keep
    if k < len(spans):
        raise AudioError(f"{info.path}: its header promises {info.samples} samples, decoded {start + len(buf)}")


def expand_inputs(inputs: Iterable[str]) -> Dict[str, str]:
    """Inputs -> ordered {id: wav.scp-style entry}.

    A directory gives its ``*.wav``/``*.flac`` files (recursively, sorted), a ``*.scp`` file its
    Kaldi entries (ids are the utterance ids; pipes allowed), anything else is an audio path
    (its id is the path as given).  A missing input raises, naming it; duplicate ids raise.
    """
    out: Dict[str, str] = {}

    def add(key: str, value: str, source: str) -> None:
        if key in out:
            raise AudioError(f"{source}: id {key!r} given twice")
        out[key] = value

    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
            if not files:
                raise AudioError(f"{path}: directory holds no {'/'.join(AUDIO_SUFFIXES)} files")
            for f in files:
                add(str(f), str(f), str(path))
        elif path.suffix == ".scp":
            if not path.is_file():
                raise AudioError(f"{path}: no such wav.scp")
            for utt, entry in read_mapping(path).items():
                add(utt, entry, str(path))
        else:
            add(str(item), str(item), str(item))
    return out
