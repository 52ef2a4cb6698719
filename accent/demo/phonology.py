"""English phoneme inventory of espeak-ng's ``en-us`` voice, grouped for transfer rules.

Accent descriptions are traditionally written in terms of Wells' lexical sets
(KIT, FLEECE, TRAP, ...) rather than phonetic symbols, and espeak prints
several allophonic variants of one English vowel (``I``, ``I#``, ``I2``).  We
therefore map every en-us vowel mnemonic to a lexical set once, here, and the
accent tables in :mod:`accent.demo.accents` speak only about lexical sets and
English consonants.  Symbols are espeak-ng 1.51 ``-x`` mnemonics; the list
covers every phoneme of the ``en``/``en-us`` tables (plus the ``base1``
symbols en-us emits), so any word espeak can say is covered.
"""

from __future__ import annotations

from typing import Mapping

#: en-us vowel mnemonic -> lexical set.
EN_VOWEL_CLASS: Mapping[str, str] = {
    # short front
    "I": "KIT", "I#": "KIT", "I2": "KIT", "I2#": "KIT",
    "i": "FLEECE",  # happY tensing, unstressed final -y
    "i:": "FLEECE",
    "E": "DRESS", "E#": "DRESS", "E2": "DRESS", "e:": "DRESS", "e#": "DRESS",
    "a": "TRAP", "a2": "TRAP",
    "aa": "BATH",  # en-us "half", "last": /ae/ before fricatives
    "V": "STRUT",
    "0": "LOT", "0#": "LOT", "02": "LOT",
    "A:": "PALM", "A#": "PALM", "A~": "PALM",
    "A@": "START",
    "O:": "THOUGHT", "O": "THOUGHT", "O2": "THOUGHT", "O~": "THOUGHT",
    "O@": "NORTH", "o@": "NORTH",
    "U": "FOOT",
    "u:": "GOOSE",
    "U@": "CURE",
    "3:": "NURSE", "VR": "NURSE",
    "3": "LETTER",  # r-coloured schwa of "water", "mister"
    "@": "COMMA", "@2": "COMMA", "@5": "COMMA", "@#": "COMMA", "@-": "COMMA",
    "a#": "COMMA", "a#2": "COMMA",  # reduced "a", "and"
    "@L": "BOTTLE",  # syllabic dark l of "table"
    "eI": "FACE",
    "oU": "GOAT", "oU#": "GOAT", "o:": "GOAT",
    "aI": "PRICE", "aI3": "FIRE", "aI@": "FIRE",
    "aU": "MOUTH", "aU@": "HOUR",
    "OI": "CHOICE",
    "e@": "SQUARE",
    "i@": "NEAR", "i@3": "NEAR", "IR": "NEAR",
}

LEXICAL_SETS: frozenset[str] = frozenset(EN_VOWEL_CLASS.values())

#: en-us consonant mnemonics -> canonical English consonant used by the accent tables.
EN_CONSONANT_CLASS: Mapping[str, str] = {
    **{c: c for c in ("p", "b", "t", "d", "k", "g", "f", "v", "T", "D", "s", "z", "S", "Z", "h",
                      "tS", "dZ", "m", "n", "N", "l", "r", "w", "j")},
    "t#": "FLAP",  # American flap in "water", "it is"
    "t2": "t", "d#": "d", "z#": "z", "z/2": "z", "w#": "w", "r/": "r", "r-": "r",
    "l/": "l", "l-": "l", "n-": "n", "m-": "m",
    "?": "t",  # glottal stop for /t/ ("button")
}

#: Symbols espeak prints that carry no segment for our purpose (linking marks).
EN_IGNORED: frozenset[str] = frozenset({";", "-", "#"})

ENGLISH_CONSONANTS: frozenset[str] = frozenset(EN_CONSONANT_CLASS.values())

#: Lexical sets of front high vowels, the context of palatalisation rules (RU, JPN).
HIGH_FRONT: frozenset[str] = frozenset({"KIT", "FLEECE"})
FRONT: frozenset[str] = frozenset({"KIT", "FLEECE", "DRESS", "TRAP", "BATH", "FACE", "SQUARE", "NEAR"})
HIGH_BACK: frozenset[str] = frozenset({"FOOT", "GOOSE", "CURE"})


def english_unit(symbol: str) -> str | None:
    """Canonical unit (lexical set or consonant) of an en-us mnemonic; None if ignorable.

    Raises ``KeyError`` naming the symbol when espeak printed something this
    table does not know (a newer espeak-ng with a new phoneme).
    """
    if symbol in EN_IGNORED:
        return None
    if symbol in EN_VOWEL_CLASS:
        return EN_VOWEL_CLASS[symbol]
    if symbol in EN_CONSONANT_CLASS:
        return EN_CONSONANT_CLASS[symbol]
    raise KeyError(f"unknown en-us phoneme mnemonic {symbol!r}; extend accent/demo/phonology.py")


def is_vowel_unit(unit: str) -> bool:
    return unit in LEXICAL_SETS
