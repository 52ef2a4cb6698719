"""Transcript normalisation of the AESRC2020 baseline (local/prepare_data.sh).

Upper-case; keep the dot of the abbreviations MR. MRS. MS.; expand ST. to
STREET; drop , . ? ! ; - : and quotes; squeeze spaces. Apostrophes inside a
word (DON'T, JOHN'S) are kept because the pronunciation lexicon has them.

One deliberate difference from the baseline's sed: ST. is expanded only as a
whole word, so FIRST. stays FIRST instead of becoming FIRSTREET.

Untranscribed speech: a segment whose transcript is ``<unk>`` (no word alignment) keeps it, upper
case, as Kaldi's unknown-word token ``<UNK>``. :func:`is_transcribed` is the one rule the CTC
targets follow: a transcript that is empty or holds ``<UNK>`` gives no targets (an empty
``text.phn`` entry, no BPE training sentence, no CTC loss), because phones invented for an
unknown word would be wrong targets.
"""

from __future__ import annotations

import re

_ABBREVIATIONS = re.compile(r"\b(MRS|MR|MS)\.")
_STREET = re.compile(r"\bST\.")
_PUNCT = re.compile(r"[,.?!;:\-\"“”‘’`]")
# a single quote that is not between two word characters is a quotation mark
_QUOTE = re.compile(r"(?<![\w])'|'(?![\w])")
_PROTECT = "\x00"

UNK_WORD = "<UNK>"  # Kaldi's unknown-word token; AESRC's "<unk>" transcripts normalise to it


def normalize_transcript(text: str) -> str:
    """Normalise one transcript line as the AESRC2020 baseline does."""
    text = text.upper().replace("’", "'")
    text = _ABBREVIATIONS.sub(lambda m: m.group(1) + _PROTECT, text)
    text = _STREET.sub("STREET", text)
    text = _PUNCT.sub(" ", text)
    text = _QUOTE.sub(" ", text)
    text = text.replace(_PROTECT, ".")
    return " ".join(text.split())


def is_transcribed(text: str) -> bool:
    """Whether a normalised transcript spells out its words: not empty and no ``<UNK>``."""
    words = text.split()
    return bool(words) and UNK_WORD not in words
