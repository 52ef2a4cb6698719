"""Audio file writers with the quirks of the real corpora.

AESRC2020 WAVs are 16 kHz 16-bit mono PCM; a few carry a RIFF ``LIST``/``INFO``
chunk between ``fmt `` and ``data`` (written by recording apps), which trips
up readers that assume a fixed 44-byte header.  We write the RIFF structure
ourselves so that we control that chunk and the bytes are reproducible.
LibriSpeech is FLAC and Common Voice MP3, written through soundfile.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Mapping, Optional

import numpy as np
import soundfile as sf


def to_int16(audio: np.ndarray) -> np.ndarray:
    return np.clip(np.round(audio * 32767.0), -32768, 32767).astype("<i2")


def _chunk(chunk_id: bytes, payload: bytes) -> bytes:
    """A RIFF chunk; odd-sized payloads get the pad byte the RIFF spec requires."""
    pad = b"\x00" if len(payload) % 2 else b""
    return chunk_id + struct.pack("<I", len(payload)) + payload + pad


def _info_list(info: Mapping[str, str]) -> bytes:
    subs = b"".join(_chunk(key.encode("ascii"), value.encode("ascii") + b"\x00") for key, value in info.items())
    return _chunk(b"LIST", b"INFO" + subs)


def wav_bytes(audio: np.ndarray, rate: int, info: Optional[Mapping[str, str]] = None) -> bytes:
    """16-bit mono PCM WAV; ``info`` adds a LIST/INFO chunk (keys are 4-letter INFO ids)."""
    pcm = to_int16(audio).tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    body = b"WAVE" + _chunk(b"fmt ", fmt)
    if info:
        for key in info:
            if len(key) != 4:
                raise ValueError(f"RIFF INFO ids have 4 characters, got {key!r}")
        body += _info_list(info)
    body += _chunk(b"data", pcm)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def write_wav(path: Path, audio: np.ndarray, rate: int, info: Optional[Mapping[str, str]] = None) -> None:
    path.write_bytes(wav_bytes(audio, rate, info))


def write_flac(path: Path, audio: np.ndarray, rate: int) -> None:
    sf.write(str(path), to_int16(audio), rate, format="FLAC", subtype="PCM_16")


def write_mp3(path: Path, audio: np.ndarray, rate: int) -> None:
    """MPEG-1 Layer III through soundfile (libsndfile >= 1.1, with LAME), as Common Voice's clips."""
    sf.write(str(path), np.clip(audio, -1.0, 1.0), rate, format="MP3", subtype="MPEG_LAYER_III")
