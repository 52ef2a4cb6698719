"""Decode compressed corpus audio (Common Voice MP3) once into 16-bit FLAC at the recipe's rate.

Every reader of a data directory (the FBank jobs, on-line crops, the phonotactic recogniser)
takes a ``wav.scp`` path at the recipe's sample rate.  MP3 at 48 kHz is neither: sox needs an
optional MP3 plug-in to read it, and one decoder process per utterance and per epoch is slow.
So stage 1 decodes each selected clip once with libsndfile (soundfile, which reads MP3 from
libsndfile 1.1 on), down-mixes, resamples with scipy's polyphase filter (as ``accent-id`` does)
and writes FLAC, each file under a temporary name renamed into place: a file that exists is
complete, and a rerun converts only what is missing.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

import numpy as np
import soundfile as sf

from accent.data.audio import AudioError
from accent.data.problems import Problem


def check_mp3_support() -> None:
    """Stop with what to install when this libsndfile cannot read MP3."""
    if "MP3" not in sf.available_formats():
        raise AudioError(f"libsndfile {sf.__libsndfile_version__} cannot read MP3 (it needs 1.1 or newer, "
                         "e.g. the one bundled with soundfile >= 0.12: pip install -U soundfile)")


def transcode(src: Path, dst: Path, sample_rate: int) -> float:
    """Write ``src`` as mono 16-bit FLAC at ``sample_rate`` to ``dst``; returns its duration in seconds."""
    try:
        samples, rate = sf.read(str(src), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as e:
        raise AudioError(f"{src}: cannot decode audio ({e})") from None
    if samples.shape[0] == 0:
        raise AudioError(f"{src}: audio has no samples")
    mono = samples.mean(axis=1)
    if rate != sample_rate:
        from scipy.signal import resample_poly

        g = math.gcd(int(rate), int(sample_rate))
        mono = resample_poly(mono, sample_rate // g, int(rate) // g)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.tmp")
    sf.write(str(tmp), np.clip(mono, -1.0, 1.0), sample_rate, format="FLAC", subtype="PCM_16")
    os.replace(tmp, dst)
    return len(mono) / sample_rate


def _job(args: Tuple[str, Path, Path, int]) -> Tuple[str, Optional[str]]:
    utt, src, dst, rate = args
    try:
        transcode(src, dst, rate)
    except AudioError as e:
        return utt, str(e).split(": ", 1)[1]
    return utt, None


def transcode_all(files: Mapping[str, Tuple[Path, Path]], sample_rate: int, num_jobs: int) -> List[Problem]:
    """Transcode ``utt -> (src, dst)`` in ``num_jobs`` processes, skipping every ``dst`` already there;
    returns the files that could not be decoded."""
    todo = [(utt, src, dst, sample_rate) for utt, (src, dst) in files.items() if not dst.is_file()]
    if num_jobs <= 1 or len(todo) < 2:
        results = [_job(t) for t in todo]
    else:
        with ProcessPoolExecutor(num_jobs) as ex:
            results = list(ex.map(_job, todo, chunksize=16))
    return [Problem(utt, files[utt][0], why) for utt, why in results if why]


def flac_paths(files: Mapping[str, Path], out_dir: Path) -> Dict[str, Tuple[Path, Path]]:
    """``utt -> (source, out_dir/<source stem>.flac)``: where each clip's FLAC goes."""
    return {utt: (src, Path(out_dir).absolute() / f"{Path(src).stem}.flac") for utt, src in files.items()}
