"""Accented speech for one sentence: text -> espeak input -> clean 16 kHz waveform."""

from __future__ import annotations

import random
import re

import numpy as np

from accent.demo.accents import Accent
from accent.demo.espeak import Voice, phonemize, synthesize
from accent.demo.transfer import transfer_sentence

# Clause-final punctuation, ignoring the dot of abbreviations such as "Mr." or "Baker St.".
_CLAUSE_PUNCT = re.compile(r"(?<!\bMr)(?<!\bMrs)(?<!\bMs)(?<!\bDr)(?<!\bSt)[,;:.?!]")


def clause_punctuation(text: str) -> list[str]:
    """The punctuation marks that end the clauses of ``text``, in order."""
    marks = _CLAUSE_PUNCT.findall(text)
    stripped = text.rstrip(" \"'")
    if stripped and stripped[-1] in ".?!" and (not marks or marks[-1] != stripped[-1]):
        marks.append(stripped[-1])
    return marks or ["."]


def espeak_input(text: str, accent: Accent, strength: float, rng: random.Random) -> str:
    """What the speaker's espeak voice is given for ``text``.

    Text-mode accents get the text itself; transfer accents get ``[[phonemes]]``
    rewritten from the en-us pronunciation.
    """
    if accent.transfer is None:
        return text
    clauses = phonemize(text, "en-us")
    marks = clause_punctuation(text)
    if len(marks) != len(clauses):
        # espeak also breaks clauses at abbreviations; then keep only the sentence-final mark.
        marks = [","] * (len(clauses) - 1) + [marks[-1]]
    return transfer_sentence(clauses, marks, accent.transfer, strength, rng)


def speak(text: str, accent: Accent, voice: Voice, strength: float, rng: random.Random) -> np.ndarray:
    """Clean (studio) 16 kHz float32 speech of ``text`` in ``accent``."""
    return synthesize(espeak_input(text, accent, strength, rng), voice)
