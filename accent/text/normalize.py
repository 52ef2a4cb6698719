"""Transcript normalisation of the AESRC2020 baseline (local/prepare_data.sh).

Upper-case; keep the dot of the abbreviations MR. MRS. MS.; expand ST. to
STREET; drop , . ? ! ; - : and quotes; squeeze spaces. Apostrophes inside a
word (DON'T, JOHN'S) are kept because the pronunciation lexicon has them.

One deliberate difference from the baseline's sed: ST. is expanded only as a
whole word, so FIRST. stays FIRST instead of becoming FIRSTREET.
"""

from __future__ import annotations

import re

_ABBREVIATIONS = re.compile(r"\b(MRS|MR|MS)\.")
_STREET = re.compile(r"\bST\.")
_PUNCT = re.compile(r"[,.?!;:\-\"“”‘’`]")
# a single quote that is not between two word characters is a quotation mark
_QUOTE = re.compile(r"(?<![\w])'|'(?![\w])")
_PROTECT = "\x00"


def normalize_transcript(text: str) -> str:
    """Normalise one transcript line as the AESRC2020 baseline does."""
    text = text.upper().replace("’", "'")
    text = _ABBREVIATIONS.sub(lambda m: m.group(1) + _PROTECT, text)
    text = _STREET.sub("STREET", text)
    text = _PUNCT.sub(" ", text)
    text = _QUOTE.sub(" ", text)
    text = text.replace(_PROTECT, ".")
    return " ".join(text.split())
