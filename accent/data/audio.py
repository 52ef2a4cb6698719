"""Reading and checking audio with a real audio library (libsndfile via soundfile).

Corpus files are checked from their headers at data preparation (fast, so a bad
file is reported before hours of feature extraction); features then decode
every sample, which catches what a header cannot show (a truncated FLAC).
"""

from __future__ import annotations

import errno
import io
import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

import numpy as np
import soundfile as sf

# libsndfile's header log says "data : 32000 (should be 15978)" when the file
# ends before the data chunk does.
_DATA_SIZE = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


# Shorter audio has not one feature frame (Kaldi's 25 ms window): caught at data preparation
# rather than by the feature jobs of stage 2.
MIN_AUDIO_SECONDS = 0.025


class AudioError(ValueError):
    """An audio file cannot be used; the message names the file and the reason."""


def not_a_file_reason(path: Path) -> str:
    """Why ``path`` is not a regular file: missing, a directory, a dangling link, a link loop, ..."""
    try:
        os.stat(path)
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "symbolic link loop"
        if e.errno == errno.EACCES:
            return "permission denied"
        if os.path.islink(path):
            return f"symbolic link to a missing file ({os.readlink(path)})"
        return "missing audio file"
    if path.is_dir():
        return "a directory, not an audio file"
    return "not a regular file"


def truncation(extra_info: str) -> Optional[str]:
    """The truncation a WAV header log reveals (libsndfile reads what there is), else None."""
    m = _DATA_SIZE.search(extra_info or "")
    if m and int(m.group(2)) < int(m.group(1)):
        return f"truncated audio (header promises {m.group(1)} data bytes, file holds {m.group(2)})"
    return None


@dataclass(frozen=True)
class AudioInfo:
    path: str
    sample_rate: int
    channels: int
    frames: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


def probe_audio(path: Path) -> AudioInfo:
    """Header information of an audio file; raises :class:`AudioError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: {not_a_file_reason(path)}")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty audio file")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as e:
        raise AudioError(f"{path}: unreadable audio ({e})") from None
    truncated = truncation(info.extra_info)
    if truncated:
        raise AudioError(f"{path}: {truncated}")
    if info.frames <= 0:
        raise AudioError(f"{path}: audio has no samples")
    if info.frames < MIN_AUDIO_SECONDS * info.samplerate:
        raise AudioError(f"{path}: too short ({info.frames} samples, {1000 * info.frames / info.samplerate:.1f} ms; "
                         f"not one {1000 * MIN_AUDIO_SECONDS:g} ms feature frame)")
    return AudioInfo(str(path), int(info.samplerate), int(info.channels), int(info.frames))


def format_problem(info: AudioInfo, sample_rate: int) -> Optional[str]:
    """Why a readable file does not fit the corpus format (None when it fits)."""
    problems = []
    if info.sample_rate != sample_rate:
        problems.append(f"sample rate {info.sample_rate} Hz, expected {sample_rate} Hz")
    if info.channels != 1:
        problems.append(f"{info.channels} channels, expected mono")
    return "; ".join(problems) or None


def conversion_command(path: str, sample_rate: int) -> str:
    """A wav.scp pipe that resamples and down-mixes with sox (Kaldi's convention)."""
    return f"sox {shlex.quote(path)} -t wav -r {sample_rate} -c 1 -b 16 - |"


def decode_wav_scp_entry(entry: str) -> Tuple[np.ndarray, int]:
    """Decode a wav.scp value (a path, or a command ending in ``|``) to (frames, channels) float32
    in [-1, 1] and its rate; :class:`AudioError` naming the entry when it cannot be decoded."""
    entry = entry.strip()
    try:
        if entry.endswith("|"):
            proc = subprocess.run(entry[:-1], shell=True, capture_output=True, check=False)
            if proc.returncode != 0:
                err = proc.stderr.decode(errors="replace").strip()
                raise AudioError(f"{entry}: command failed with code {proc.returncode}: {err}")
            samples, rate = sf.read(io.BytesIO(proc.stdout), dtype="float32", always_2d=True)
        else:
            if not Path(entry).is_file():
                raise AudioError(f"{entry}: {not_a_file_reason(Path(entry))}")
            with sf.SoundFile(entry) as f:
                expected = f.frames
                samples = f.read(dtype="float32", always_2d=True)
                rate = f.samplerate
            # a truncated FLAC decodes fewer samples than its header promises
            if samples.shape[0] < expected:
                raise AudioError(f"{entry}: truncated audio (decoded {samples.shape[0]} of {expected} samples)")
    except (sf.LibsndfileError, RuntimeError) as e:
        raise AudioError(f"{entry}: cannot decode audio ({e})") from None
    if samples.shape[0] == 0:
        raise AudioError(f"{entry}: audio has no samples")
    return samples, int(rate)


def read_wav_scp_entry(entry: str) -> Tuple[np.ndarray, int]:
    """Decode a wav.scp value (a path, or a command ending in ``|``) to mono float32 in [-1, 1].

    Raises :class:`AudioError` naming the entry when it cannot be decoded or holds
    several channels (data preparation turns those into explicit sox pipes).
    """
    samples, rate = decode_wav_scp_entry(entry)
    if samples.shape[1] != 1:
        raise AudioError(f"{entry.strip()}: {samples.shape[1]} channels, expected mono")
    return samples[:, 0], rate
