"""Thin subprocess wrapper around the ``espeak-ng`` command line.

Two operations are needed by the demo corpora:

* :func:`phonemize` -- English text to espeak phoneme mnemonics (``-x``),
  split into clauses, words and phonemes, so that accent transfer rules can
  rewrite them;
* :func:`synthesize` -- text, or phonemes wrapped in ``[[...]]``, to a 16 kHz
  float waveform.

We call the binary rather than binding ``libespeak-ng`` because the library
keeps process-global state (current voice, callbacks), which does not mix
well with worker pools; a call costs about 12 ms, which is affordable.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

ESPEAK = "espeak-ng"
#: espeak-ng synthesises at 22050 Hz; the corpora are 16 kHz.
ESPEAK_RATE = 22050
TARGET_RATE = 16000
_STRESS_MARKS = "',%="

#: A phoneme as printed by ``-x``: stress prefix ("'", ",", "%", "=" or "") and mnemonic.
Phone = tuple[str, str]
Word = list[Phone]
Clause = list[Word]


@dataclass(frozen=True)
class Voice:
    """How espeak-ng speaks: language voice, variant and prosody knobs."""

    language: str  # e.g. "en-us", "ru", "cmn"
    variant: Optional[str] = None  # e.g. "m3", "f2" (files in espeak-ng-data/voices/!v)
    pitch: int = 50  # -p, 0..99
    speed: int = 175  # -s, words per minute
    word_gap: int = 0  # -g, extra pause between words in units of 10 ms

    def arg(self) -> str:
        return f"{self.language}+{self.variant}" if self.variant else self.language


class EspeakError(RuntimeError):
    """espeak-ng failed or produced unusable output."""


def check_espeak() -> str:
    """Return the path of espeak-ng or raise a helpful error."""
    path = shutil.which(ESPEAK)
    if path is None:
        raise EspeakError(f"{ESPEAK} not found on PATH; install it (Debian: apt-get install espeak-ng)")
    return path


def _run(options: Sequence[str], text: str, what: str) -> bytes:
    # "--" so that a text starting with "-" is not taken for an option.
    try:
        proc = subprocess.run([ESPEAK, *options, "--", text], capture_output=True, check=False)
    except FileNotFoundError as exc:  # pragma: no cover - depends on the machine
        raise EspeakError(f"{ESPEAK} not found on PATH while {what}") from exc
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise EspeakError(f"{ESPEAK} {' '.join(options)} failed ({proc.returncode}) while {what}: {err}")
    return proc.stdout


def parse_phonemes(output: str) -> list[Clause]:
    """Parse ``espeak-ng -q -x --sep=' '`` output.

    Format (espeak-ng 1.51): one line per clause, words separated by two
    spaces, phonemes by one space, the stress mark prefixed to the stressed
    vowel (``h @ l 'oU``).  Pause tokens (``_:``, ``_|``) and language switch
    markers (``(en)``) are dropped: the caller re-inserts its own clause breaks.
    """
    clauses: list[Clause] = []
    for line in output.splitlines():
        words: Clause = []
        for word_text in line.split("  "):
            word: Word = []
            for tok in word_text.split(" "):
                if not tok or tok.startswith("_") or tok.startswith("("):
                    continue
                stress = ""
                while tok and tok[0] in _STRESS_MARKS:
                    stress, tok = stress + tok[0], tok[1:]
                if tok:
                    word.append((stress, tok))
            if word:
                words.append(word)
        if words:
            clauses.append(words)
    return clauses


def phonemize(text: str, language: str = "en-us") -> list[Clause]:
    """Phonemes of ``text`` read by the ``language`` voice, as clauses of words."""
    out = _run(["-q", "-x", "--sep= ", "-v", language], text, f"phonemizing {text!r}")
    return parse_phonemes(out.decode("utf-8", "replace"))


def synthesize(text: str, voice: Voice) -> np.ndarray:
    """Speak ``text`` (may contain ``[[phonemes]]``) and return float32 audio at 16 kHz."""
    args = ["--stdout", "-v", voice.arg(), "-p", str(voice.pitch), "-s", str(voice.speed)]
    if voice.word_gap:
        args += ["-g", str(voice.word_gap)]
    wav = _run(args, text, f"synthesising {text!r} with voice {voice.arg()}")
    try:
        audio, rate = sf.read(io.BytesIO(wav), dtype="float32")
    except RuntimeError as exc:  # soundfile's LibsndfileError is a RuntimeError
        raise EspeakError(f"cannot decode espeak-ng output for {text!r} ({voice.arg()}): {exc}") from exc
    if rate != ESPEAK_RATE:
        raise EspeakError(f"espeak-ng produced {rate} Hz audio, expected {ESPEAK_RATE}")
    if audio.ndim != 1:
        audio = audio.mean(axis=1)
    # 22050 -> 16000 = 320/441 exactly.
    return resample_poly(audio, 320, 441).astype(np.float32)
