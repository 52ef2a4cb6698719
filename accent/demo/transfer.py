"""L1-transfer engine: rewrite English phonemes into another voice's phonemes.

espeak-ng 1.51's non-English voices do not read English text with an accent:
they hand Latin-script words to the English translator (the Japanese voice even
spells them letter by letter).  What does work is phoneme input: we phonemize
the sentence with ``en-us``, rewrite each phoneme into the symbols of the L1
voice's *own* phoneme table, and let the L1 voice speak ``[[...]]``.  The L1
voice then contributes its vowel qualities, consonant realisations and
prosody; the rewrite contributes the learner's phonology.

A :class:`TransferTable` has two layers:

* ``nearest`` -- the closest sound the L1 voice can make for every English
  unit (lexical set or consonant).  It always applies, and it may use symbols
  from espeak's shared ``base1`` table (``T``, ``w`` ...) that the L1 voice
  inherits, so a proficient speaker keeps English-like consonants;
* ``rules`` -- transfer rules (substitution in a context, epenthesis,
  prothesis).  Each fires with the speaker's *accent strength* as probability,
  so speakers of one L1 range from mild to strong accents.

Symbols are espeak-ng ``-x`` mnemonics.  An unknown symbol in phoneme input
makes espeak silently drop the rest of the word, which is why every table is
checked against the L1 voice in the tests.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import Enum
from typing import Mapping, Optional, Sequence

from accent.demo.espeak import Clause, Word
from accent.demo.phonology import FRONT, HIGH_BACK, HIGH_FRONT, english_unit, is_vowel_unit


class Where(Enum):
    """Context of an English unit inside its word."""

    ANY = "any"
    INITIAL = "initial"  # first unit of the word
    FINAL = "final"  # last unit of the word
    CODA = "coda"  # consonant not followed by a vowel (before a consonant or word end)
    ONSET = "onset"  # consonant followed by a vowel
    BEFORE_FRONT = "before_front"  # followed by a front vowel
    BEFORE_HIGH_FRONT = "before_high_front"  # followed by KIT/FLEECE
    BEFORE_HIGH_BACK = "before_high_back"  # followed by FOOT/GOOSE/CURE
    INTERVOCALIC = "intervocalic"


@dataclass(frozen=True)
class Sub:
    """Replace English unit ``src`` by L1 symbols ``dst`` (space separated; "" deletes)."""

    src: str
    dst: str
    where: Where = Where.ANY
    why: str = ""

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self.dst.split())


@dataclass(frozen=True)
class Epenthesis:
    """Insert ``vowel`` after a consonant in ``where`` (CODA or FINAL).

    ``after`` restricts the triggering English consonants; None means any.
    """

    vowel: str
    where: Where = Where.FINAL
    after: Optional[frozenset[str]] = None
    why: str = ""


@dataclass(frozen=True)
class Prothesis:
    """Insert ``vowel`` before a word-initial s + consonant cluster ("school" -> "ischool")."""

    vowel: str
    why: str = ""


@dataclass(frozen=True)
class Tones:
    """Tone digits appended to every L1 vowel (tone languages: espeak's cmn needs them).

    Each entry is (tone, weight); stressed English syllables draw from
    ``stressed``, the others from ``unstressed``.
    """

    stressed: tuple[tuple[str, float], ...]
    unstressed: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class TransferTable:
    """How one L1 rewrites English: ``nearest`` per English unit, plus probabilistic rules.

    Keys of ``nearest`` and ``Sub.src`` are lexical sets (``KIT``) or English
    consonants (``T``, ``FLAP``), see :mod:`accent.demo.phonology`; values are
    space-separated L1 mnemonics.
    """

    nearest: Mapping[str, str]
    rules: tuple[Sub, ...] = ()
    epenthesis: tuple[Epenthesis, ...] = ()
    prothesis: Optional[Prothesis] = None
    #: L1 symbols that are syllable nuclei: they carry stress marks (and tones).
    vowels: frozenset[str] = field(default_factory=frozenset)
    tones: Optional[Tones] = None

    def output_symbols(self) -> frozenset[str]:
        """Every L1 symbol this table can emit (used to validate it against the voice)."""
        syms: set[str] = set()
        for dst in self.nearest.values():
            syms.update(dst.split())
        for rule in self.rules:
            syms.update(rule.symbols)
        syms.update(e.vowel for e in self.epenthesis)
        if self.prothesis is not None:
            syms.add(self.prothesis.vowel)
        return frozenset(syms)


_MAX_WORDS_PER_BLOCK = 40


def _matches(where: Where, units: Sequence[str], i: int) -> bool:
    nxt = units[i + 1] if i + 1 < len(units) else None
    prv = units[i - 1] if i > 0 else None
    if where is Where.ANY:
        return True
    if where is Where.INITIAL:
        return i == 0
    if where is Where.FINAL:
        return nxt is None
    if where is Where.CODA:
        return not is_vowel_unit(units[i]) and (nxt is None or not is_vowel_unit(nxt))
    if where is Where.ONSET:
        return not is_vowel_unit(units[i]) and nxt is not None and is_vowel_unit(nxt)
    if where is Where.BEFORE_FRONT:
        return nxt in FRONT
    if where is Where.BEFORE_HIGH_FRONT:
        return nxt in HIGH_FRONT
    if where is Where.BEFORE_HIGH_BACK:
        return nxt in HIGH_BACK
    if where is Where.INTERVOCALIC:
        return prv is not None and nxt is not None and is_vowel_unit(prv) and is_vowel_unit(nxt)
    raise ValueError(f"unhandled context {where}")


def _weighted(rng: random.Random, options: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


def transfer_word(word: Word, table: TransferTable, strength: float, rng: random.Random) -> str:
    """Rewrite one en-us word (list of (stress, mnemonic)) into an L1 phoneme string."""
    stresses: list[str] = []
    units: list[str] = []
    for stress, sym in word:
        unit = english_unit(sym)
        if unit is not None:
            stresses.append(stress)
            units.append(unit)
    out: list[str] = []
    if (table.prothesis is not None and len(units) > 1 and units[0] == "s"
            and not is_vowel_unit(units[1]) and rng.random() < strength):
        out.append(table.prothesis.vowel)
    for i, unit in enumerate(units):
        symbols: Optional[tuple[str, ...]] = None
        for rule in table.rules:
            if rule.src == unit and _matches(rule.where, units, i) and rng.random() < strength:
                symbols = rule.symbols
                break
        if symbols is None:
            try:
                symbols = tuple(table.nearest[unit].split())
            except KeyError:
                raise KeyError(f"transfer table has no 'nearest' entry for English unit {unit!r}") from None
        stress = stresses[i]
        for sym in symbols:
            if sym in table.vowels:
                tone = ""
                if table.tones is not None:
                    tone = _weighted(rng, table.tones.stressed if stress == "'" else table.tones.unstressed)
                out.append(f"{stress}{sym}{tone}")
                stress = ""  # only the first L1 vowel carries the English stress
            else:
                out.append(sym)
        if symbols and not is_vowel_unit(unit):
            for ep in table.epenthesis:
                if ((ep.after is None or unit in ep.after) and _matches(ep.where, units, i)
                        and rng.random() < strength):
                    tone = ""
                    if table.tones is not None:
                        tone = _weighted(rng, table.tones.unstressed)
                    out.append(f"{ep.vowel}{tone}")
                    break
    return "".join(out)


def transfer_sentence(clauses: Sequence[Clause], punctuation: Sequence[str], table: TransferTable,
                      strength: float, rng: random.Random) -> str:
    """espeak input for a whole sentence: ``[[w1 w2]], [[w3]]?``.

    Punctuation stays outside the phoneme brackets so the L1 voice still
    produces clause-final and question intonation.
    """
    parts: list[str] = []
    for k, clause in enumerate(clauses):
        words = [transfer_word(w, table, strength, rng) for w in clause]
        words = [w for w in words if w]
        if not words:
            continue
        punct = punctuation[k] if k < len(punctuation) else ","
        # espeak truncates a phoneme clause beyond ~700 characters; keep blocks well below.
        chunks = [words[i:i + _MAX_WORDS_PER_BLOCK] for i in range(0, len(words), _MAX_WORDS_PER_BLOCK)]
        parts.append(", ".join(f"[[{' '.join(c)}]]" for c in chunks) + punct)
    return " ".join(parts)
