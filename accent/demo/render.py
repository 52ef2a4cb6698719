"""Render planned utterances to audio files, in parallel.

The corpus builders (:mod:`accent.demo.aesrc`, :mod:`accent.demo.librispeech`)
plan every utterance up front as a picklable :class:`UttJob`; workers only
synthesise and write.  All randomness of a job comes from RNGs seeded by the
job's identity, so the bytes of a file do not depend on the worker or order.
"""

from __future__ import annotations

import functools
import logging
import math
import multiprocessing
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Optional, Sequence

import numpy as np
from scipy.signal import resample_poly

from accent.demo.channel import apply_channel
from accent.demo.espeak import Voice, synthesize
from accent.demo.seeding import np_rng, py_rng
from accent.demo.sentences import SentenceGenerator
from accent.demo.speakers import SpeakerProfile
from accent.demo.speech import speak
from accent.demo.wavio import write_flac, write_mp3, write_wav

logger = logging.getLogger(__name__)

RATE = 16000
#: Languages of the background talkers in babble noise: unrelated to the accents on purpose.
_BABBLE_LANGUAGES = ("en-us", "en-gb", "es", "fr-fr", "de", "it", "pt-br", "nl")
_BABBLE_CLIPS = 12


@dataclass(frozen=True)
class UttJob:
    path: Path  # output audio file
    text: str
    speaker: SpeakerProfile
    seed: int  # corpus seed
    index: int  # utterance index within the speaker (part of the RNG identity)
    fmt: str = "wav"  # "wav", "flac" or "mp3"
    info: Optional[Mapping[str, str]] = None  # RIFF LIST/INFO entries (wav only)
    rate: int = RATE  # of the file: speech is made at 16 kHz and resampled (L2-ARCTIC 44.1k, Common Voice 48k)


@functools.lru_cache(maxsize=4)
def babble_bank(seed: int) -> tuple[np.ndarray, ...]:
    """Clean multi-language speech clips that babble noise is mixed from (cached per process)."""
    gen = SentenceGenerator(py_rng(seed, "babble-text").getrandbits(32))
    rng = np_rng(seed, "babble-voices")
    clips = []
    for k in range(_BABBLE_CLIPS):
        voice = Voice(_BABBLE_LANGUAGES[k % len(_BABBLE_LANGUAGES)], f"m{1 + k % 7}" if k % 2 else f"f{1 + k % 4}",
                      pitch=int(rng.integers(30, 70)), speed=int(rng.integers(150, 200)))
        clips.append(synthesize(" ".join(gen.sentences(3)), voice))
    return tuple(clips)


def render(job: UttJob) -> float:
    """Synthesise, degrade and write one utterance; returns its duration in seconds."""
    spk = job.speaker
    identity = (job.seed, spk.accent.code, spk.speaker_id, job.index)
    try:
        clean = speak(job.text, spk.accent, spk.voice, spk.strength, py_rng("transfer", *identity))
        if len(clean) < RATE // 10:
            raise RuntimeError(f"espeak produced only {len(clean)} samples")
        audio = apply_channel(clean, spk.channel, np_rng("channel", *identity), babble_bank(job.seed))
        if job.rate != RATE:
            g = math.gcd(job.rate, RATE)
            audio = resample_poly(audio, job.rate // g, RATE // g).astype(np.float32)
        if job.fmt == "wav":
            write_wav(job.path, audio, job.rate, job.info)
        elif job.fmt == "flac":
            write_flac(job.path, audio, job.rate)
        elif job.fmt == "mp3":
            write_mp3(job.path, audio, job.rate)
        else:
            raise ValueError(f"unknown audio format {job.fmt!r}")
    except Exception as exc:
        raise RuntimeError(f"{job.path}: generating {job.text!r} ({spk.accent.code}, {spk.voice.arg()}) "
                           f"failed: {exc}") from exc
    return len(audio) / job.rate


def render_all(jobs: Sequence[UttJob], num_jobs: int, what: str) -> list[float]:
    """Render ``jobs`` with ``num_jobs`` processes; returns the durations (s), in job order."""
    start = time.monotonic()
    durations: list[float] = []
    step = max(len(jobs) // 10, 1)

    def collect(results: Iterable[float]) -> None:
        for dur in results:
            durations.append(dur)
            done = len(durations)
            if done % step == 0 or done == len(jobs):
                elapsed = time.monotonic() - start
                logger.info("%s: %d/%d utterances (%.1f utt/s)", what, done, len(jobs), done / max(elapsed, 1e-9))

    if num_jobs <= 1 or len(jobs) < 2:
        collect(render(j) for j in jobs)
    else:
        # fork shares the imported modules and starts fast; spawn elsewhere works too (jobs pickle).
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        with multiprocessing.get_context(method).Pool(num_jobs) as pool:
            collect(pool.imap(render, jobs, chunksize=4))
    elapsed = time.monotonic() - start
    logger.info("%s: %d utterances, %.2f h of audio in %.1f s (%.1f utt/s)",
                what, len(jobs), sum(durations) / 3600, elapsed, len(jobs) / max(elapsed, 1e-9))
    return durations
