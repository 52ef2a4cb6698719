"""The accents of the demo corpora and how each is synthesised.

Native and near-native accents are produced by an espeak-ng voice reading the
English text itself (US = en-us, UK = en-gb family, PT = Portuguese voices,
whose letter-to-sound rules give a Portuguese accent).  The L1 accents CHN,
IND, JPN, KR and RU go through phoneme transfer (see
:mod:`accent.demo.transfer`): the tables below say, per English lexical set
or consonant, what the L1 voice should say, plus the learner-typical rules.

Symbols on the right-hand side are espeak-ng 1.51 ``-x`` mnemonics of the L1
voice, found by phonemizing native-script text with that voice, e.g.
``espeak-ng -q -x --sep=' ' -v ru "Привет, как дела?"`` -> ``p @- r ; i v ; 'e t``.
Symbols also in espeak's shared ``base1`` table (``T``, ``D``, ``w``, ``f``,
``v``, ``z``, ``S``, ``tS``, ``dZ``, ``l``, ``r``, ``@``) are used in
``nearest`` where the L1 voice inherits them: that is what a proficient speaker
produces when a transfer rule does not fire.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

from accent.demo.phonology import ENGLISH_CONSONANTS
from accent.demo.transfer import Epenthesis, Prothesis, Sub, Tones, TransferTable, Where


def _set(*symbols: str) -> frozenset[str]:
    return frozenset(symbols)


VOICED_OBSTRUENTS_DEVOICED = {"b": "p", "d": "t", "g": "k", "v": "f", "z": "s", "Z": "S"}

#: ``nearest`` for the English consonants when no transfer rule fires: the base1 symbol itself
#: (inherited by every L1 voice), and the American flap as a plain t.
KEPT_CONSONANTS: Mapping[str, str] = {**{c: c for c in ENGLISH_CONSONANTS - {"FLAP"}}, "FLAP": "t"}

# ----------------------------------------------------------------------------------------------
# Russian L1 (voice "ru").  Vowels: a e i o u y E V A 8 I (ru has no tense/lax contrast, no
# schwa-less reduction of /ae/); consonants incl. palatalised t; d; s; z; m; l^, velar x, ts.
# ----------------------------------------------------------------------------------------------
RU = TransferTable(
    vowels=_set("a", "e", "i", "o", "u", "y", "E", "V", "A", "8", "I"),
    nearest={
        "KIT": "I", "FLEECE": "i", "DRESS": "E", "TRAP": "E", "BATH": "E", "STRUT": "a",
        "LOT": "o", "PALM": "a", "START": "a", "THOUGHT": "o", "NORTH": "o", "FOOT": "u",
        "GOOSE": "u", "CURE": "u V", "NURSE": "8", "LETTER": "V", "COMMA": "V", "BOTTLE": "V l",
        "FACE": "e j", "GOAT": "o u", "PRICE": "a j", "FIRE": "a j V", "MOUTH": "a u",
        "HOUR": "a u V", "CHOICE": "o j", "SQUARE": "E", "NEAR": "i V",
        **KEPT_CONSONANTS, "tS": "tS;",
    },
    rules=(
        # Interdental fricatives do not exist in Russian: stopping or sibilant substitution.
        Sub("T", "s", why="think -> sink"), Sub("T", "t"),
        Sub("D", "z", why="the -> ze"), Sub("D", "d"),
        # /w/ -> /v/, /h/ -> velar [x], /N/ -> [n] + stop.
        Sub("w", "v", why="we -> ve"), Sub("h", "x", why="house -> khouse"),
        Sub("N", "n k", Where.FINAL, why="-ing -> -ink"), Sub("N", "n g"),
        # Final obstruent devoicing, a hallmark of Russian English.
        *(Sub(v, u, Where.FINAL, why="final devoicing") for v, u in VOICED_OBSTRUENTS_DEVOICED.items()),
        Sub("dZ", "tS;", Where.FINAL, why="final devoicing"),
        # Consonants palatalise before front vowels.
        Sub("t", "t;", Where.BEFORE_FRONT, why="palatalisation"), Sub("d", "d;", Where.BEFORE_FRONT),
        Sub("l", "l^", Where.BEFORE_FRONT), Sub("s", "s;", Where.BEFORE_HIGH_FRONT),
        # No tense/lax contrast; full vowels instead of schwa; r pronounced from spelling.
        Sub("KIT", "i", why="ship = sheep"), Sub("GOAT", "o", why="monophthong"),
        Sub("FACE", "e"), Sub("LETTER", "E r", why="spelling pronunciation"),
        Sub("START", "a r"), Sub("NORTH", "o r"), Sub("NURSE", "8 r"), Sub("SQUARE", "E r"),
        Sub("NEAR", "i r"), Sub("COMMA", "a", why="spelling pronunciation of unstressed a"),
        Sub("TRAP", "e"), Sub("FLAP", "d"),
    ),
)

# ----------------------------------------------------------------------------------------------
# Mandarin L1 (voice "cmn", same phoneme table as cmn-latn-pinyin).  Pinyin-based symbols:
# unaspirated p t k vs aspirated ph th kh, retroflex s. ts. ts.h z., velar X for h; vowels need
# a tone digit (55 high, 35 rising, 21(4) dipping, 51 falling, 11 neutral).
# ----------------------------------------------------------------------------------------------
CHN = TransferTable(
    vowels=_set("a", "A", "@", "E", "i", "o", "u", "y", "ai", "ei", "Au", "ou", "@r", "uo", "iE"),
    tones=Tones(stressed=(("51", 0.5), ("55", 0.3), ("35", 0.2)),
                unstressed=(("55", 0.35), ("11", 0.25), ("35", 0.2), ("21", 0.2))),
    nearest={
        "KIT": "i", "FLEECE": "i", "DRESS": "E", "TRAP": "E", "BATH": "E", "STRUT": "A",
        "LOT": "o", "PALM": "A", "START": "A", "THOUGHT": "o", "NORTH": "o", "FOOT": "u",
        "GOOSE": "u", "CURE": "u @", "NURSE": "@r", "LETTER": "@", "COMMA": "@", "BOTTLE": "@ l",
        "FACE": "ei", "GOAT": "ou", "PRICE": "ai", "FIRE": "ai @", "MOUTH": "Au", "HOUR": "Au @",
        "CHOICE": "o i", "SQUARE": "E", "NEAR": "i @",
        **KEPT_CONSONANTS, "p": "ph", "t": "th", "k": "kh", "h": "X",
    },
    rules=(
        # No voiced stops: English b d g heard as unaspirated p t k.
        Sub("b", "p", why="no voicing contrast"), Sub("d", "t"), Sub("g", "k"),
        Sub("T", "s", why="think -> sink"), Sub("T", "f"),
        Sub("D", "t", why="the -> de"), Sub("D", "z"),
        Sub("v", "w", why="very -> wery"), Sub("z", "s"), Sub("z", "ts"),
        Sub("S", "s.", why="retroflex sh"), Sub("Z", "z."), Sub("tS", "ts.h"), Sub("dZ", "ts."),
        Sub("r", "z.", Where.ONSET, why="retroflex approximant"), Sub("r", "", Where.CODA),
        Sub("l", "", Where.FINAL, why="dark l vocalised"), Sub("n", "N", Where.FINAL),
        # Final stops are dropped (syllable codas are only n/N in Mandarin) ...
        *(Sub(c, "", Where.FINAL, why="coda deletion") for c in ("t", "d", "k", "g", "p", "b")),
        # ... and r-coloured vowels become the "er" final.
        Sub("LETTER", "@r"), Sub("START", "A @r"), Sub("NORTH", "o @r"), Sub("BOTTLE", "o"),
        Sub("FLAP", "t"), Sub("KIT", "i"),
    ),
    # "good" -> "good-uh": a schwa after a final consonant that survived.
    epenthesis=(Epenthesis("@", Where.FINAL, _set("t", "d", "k", "g", "p", "b", "s", "z", "f", "v", "S",
                                                     "tS", "dZ", "T", "D")),),
)

# ----------------------------------------------------------------------------------------------
# Hindi L1 (voice "hi").  Dental t d vs retroflex t. d.; aspirated p# t# k# (t# = dental
# aspirated, the usual Indian "th"); affricates c J; v is a labiodental approximant (both v and w);
# long vowels a: i: u: e: o: E: O:; H is breathy h.
# ----------------------------------------------------------------------------------------------
IND = TransferTable(
    vowels=_set("@", "a", "a:", "i", "i:", "I", "e:", "E:", "E", "o:", "O:", "O", "U", "u:", "aI", "aU"),
    nearest={
        "KIT": "I", "FLEECE": "i:", "DRESS": "E", "TRAP": "E:", "BATH": "a:", "STRUT": "@",
        "LOT": "O", "PALM": "a:", "START": "a:", "THOUGHT": "O:", "NORTH": "O:", "FOOT": "U",
        "GOOSE": "u:", "CURE": "u: @", "NURSE": "@", "LETTER": "@", "COMMA": "@", "BOTTLE": "@ l",
        "FACE": "e:", "GOAT": "o:", "PRICE": "aI", "FIRE": "aI @", "MOUTH": "aU", "HOUR": "aU @",
        "CHOICE": "O I", "SQUARE": "E:", "NEAR": "i: @",
        **KEPT_CONSONANTS,
    },
    rules=(
        # English alveolar stops are heard as retroflex, the best-known Indian English feature.
        Sub("t", "t.", why="retroflex t"), Sub("d", "d.", why="retroflex d"), Sub("FLAP", "t."),
        # th as aspirated/plain dental stops.
        Sub("T", "t#", why="thin -> t(h)in, dental"), Sub("D", "d", why="this -> dis, dental"),
        # v and w merge into the Hindi labiodental approximant.
        Sub("w", "v", why="v/w merger"), Sub("v", "v"),
        Sub("z", "J", why="zero -> jero"), Sub("Z", "J"), Sub("tS", "c"), Sub("dZ", "J"),
        Sub("h", "H", why="breathy h"), Sub("f", "p#", Where.INITIAL, why="f -> aspirated p"),
        # Rhotic: post-vocalic r is pronounced (as a tap).
        Sub("LETTER", "@ r"), Sub("NURSE", "@ r"), Sub("START", "a: r"), Sub("NORTH", "O: r"),
        Sub("SQUARE", "E: r"), Sub("NEAR", "i: r"), Sub("CURE", "u: r"),
        # Spelling-based full vowels in unstressed syllables.
        Sub("COMMA", "a"), Sub("LOT", "a:"), Sub("CHOICE", "O j"),
    ),
    prothesis=Prothesis("I", why="school -> ischool"),
)

# ----------------------------------------------------------------------------------------------
# Japanese L1 (voice "ja").  Five vowels a i u o e (":" lengthens); r` is the flap used for both
# r and l; s\ t_s\ d_z\ are sh ch j (before i), t_s is ts (before u), p\ is the bilabial f of
# "fu", N\ the moraic n.  Syllables are CV, so codas get an epenthetic vowel.
# ----------------------------------------------------------------------------------------------
JPN = TransferTable(
    vowels=_set("a", "i", "u", "e", "o", "a:", "i:", "u:", "e:", "o:", "@"),
    nearest={
        "KIT": "i", "FLEECE": "i:", "DRESS": "e", "TRAP": "a", "BATH": "a", "STRUT": "a",
        "LOT": "a", "PALM": "a:", "START": "a:", "THOUGHT": "o:", "NORTH": "o:", "FOOT": "u",
        "GOOSE": "u:", "CURE": "u a:", "NURSE": "a:", "LETTER": "@", "COMMA": "@", "BOTTLE": "@ l",
        "FACE": "e:", "GOAT": "o:", "PRICE": "a i", "FIRE": "a i a:", "MOUTH": "a u",
        "HOUR": "a w a:", "CHOICE": "o i", "SQUARE": "e a:", "NEAR": "i a:",
        **KEPT_CONSONANTS,
    },
    rules=(
        # One liquid for r and l.
        Sub("r", "r`", why="r/l merger"), Sub("l", "r`", why="r/l merger"),
        Sub("f", "p\\", why="bilabial f"), Sub("v", "b", why="very -> bery"),
        Sub("T", "s", why="think -> sink"), Sub("D", "z", why="the -> za"), Sub("D", "d"),
        Sub("S", "s\\"), Sub("Z", "d_z\\"), Sub("tS", "t_s\\"), Sub("dZ", "d_z\\"),
        # Palatalisation before i, affrication before u.
        Sub("s", "s\\", Where.BEFORE_HIGH_FRONT, why="see -> shi"),
        Sub("t", "t_s\\", Where.BEFORE_HIGH_FRONT, why="ti -> chi"),
        Sub("d", "d_z\\", Where.BEFORE_HIGH_FRONT), Sub("z", "d_z\\", Where.BEFORE_HIGH_FRONT),
        Sub("t", "t_s", Where.BEFORE_HIGH_BACK, why="tu -> tsu"), Sub("h", "p\\", Where.BEFORE_HIGH_BACK),
        Sub("n", "N\\", Where.CODA, why="moraic n"), Sub("N", "N\\ g", Where.FINAL),
        # Katakana vowels: schwa and r-coloured vowels follow the spelling.
        Sub("COMMA", "a"), Sub("LETTER", "a:"), Sub("BOTTLE", "r` u"), Sub("KIT", "i"),
        Sub("FLAP", "t"),
    ),
    # CV syllables: an epenthetic vowel after a coda consonant (o after t/d, i after ch/j, else u).
    epenthesis=(
        Epenthesis("o", Where.CODA, _set("t", "d"), why="bed -> beddo"),
        Epenthesis("i", Where.CODA, _set("tS", "dZ"), why="bridge -> burijji"),
        Epenthesis("u", Where.CODA, _set("p", "b", "k", "g", "f", "v", "s", "z", "S", "Z", "T", "D",
                                           "m", "l", "r", "h"), why="desk -> desuku"),
    ),
)

# ----------------------------------------------------------------------------------------------
# Korean L1 (voice "ko").  Lenis g d b, aspirated kh ph (and t h), tensed k- t- p- s-, tS; dZ;
# for the ㅈ series; "*" is the flap of initial ㄹ and L the lateral coda; u- is the unrounded
# high vowel ㅡ used for epenthesis; @ is ㅓ, E is ㅐ.
# ----------------------------------------------------------------------------------------------
KR = TransferTable(
    vowels=_set("a", "E", "e", "i", "o", "u", "u-", "@"),
    nearest={
        "KIT": "i", "FLEECE": "i", "DRESS": "e", "TRAP": "E", "BATH": "E", "STRUT": "@",
        "LOT": "a", "PALM": "a", "START": "a", "THOUGHT": "o", "NORTH": "o", "FOOT": "u",
        "GOOSE": "u", "CURE": "u @", "NURSE": "@", "LETTER": "@", "COMMA": "@", "BOTTLE": "u- l",
        "FACE": "e i", "GOAT": "o u", "PRICE": "a i", "FIRE": "a i @", "MOUTH": "a u",
        "HOUR": "a u @", "CHOICE": "o i", "SQUARE": "E @", "NEAR": "i @",
        **KEPT_CONSONANTS,
    },
    rules=(
        Sub("f", "ph", why="coffee -> keopi"), Sub("v", "b", why="very -> beri"),
        Sub("T", "s", why="think -> sink"), Sub("T", "t"), Sub("D", "d", why="the -> de"),
        Sub("z", "dZ;", why="zoo -> ju"), Sub("Z", "dZ;"), Sub("tS", "tS;"), Sub("dZ", "dZ;"),
        Sub("S", "s", Where.ONSET),
        # Liquids: flap in the onset, lateral in the coda.
        Sub("r", "*", why="r/l merger: flap"), Sub("l", "*", Where.INTERVOCALIC),
        Sub("l", "L", Where.CODA),
        # Strongly aspirated initial voiceless stops; no flapping.
        Sub("p", "ph", Where.INITIAL), Sub("k", "kh", Where.INITIAL), Sub("t", "t h", Where.INITIAL),
        Sub("FLAP", "d"),
        Sub("FACE", "e", why="monophthong"), Sub("GOAT", "o", why="monophthong"),
        Sub("KIT", "i"), Sub("BOTTLE", "u- L"),
    ),
    # No obstruent clusters or released final fricatives: epenthetic u- (i after ch/j).
    epenthesis=(
        Epenthesis("i", Where.FINAL, _set("tS", "dZ"), why="bridge -> beuriji"),
        Epenthesis("u-", Where.CODA, _set("s", "z", "f", "v", "T", "D", "S", "Z"), why="bus -> beoseu"),
        Epenthesis("u-", Where.FINAL, _set("p", "b", "t", "d", "k", "g"), why="bed -> bedeu"),
    ),
)


# ----------------------------------------------------------------------------------------------
# Accents and their long AESRC2020 folder names.
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Accent:
    """One accent: label, AESRC2020 folder name and how to synthesise it."""

    code: str
    dir_name: Optional[str]  # None: appears only in the test labels (not one of the 8 accents)
    #: espeak voices a speaker of this accent may be given (drawn per speaker).
    voices: tuple[str, ...]
    #: None: the voice reads the English text itself; else phonemes go through this table.
    transfer: Optional[TransferTable] = None
    #: Speaking rate range (espeak words per minute), drawn per speaker.
    speed: tuple[int, int] = (160, 210)
    #: Extra pause between words (espeak -g, units of 10 ms), drawn per speaker.
    word_gaps: tuple[int, ...] = (0, 0, 0, 1)


# Tempo: second-language speakers read slower and pause more between words, and L1s differ
# (syllable-timed Hindi-English is fast; Mandarin and Japanese speakers insert more breaks).
# Ranges overlap, so tempo is a soft cue: (espeak words per minute range, -g word-gap choices
# in units of 10 ms).
ACCENTS: Mapping[str, Accent] = {
    "US": Accent("US", "American English Speech Data", ("en-us", "en-us", "en-us-nyc"),
                 None, (160, 210), (0, 0, 0, 1)),
    "UK": Accent("UK", "British English Speech Data",
                 ("en-gb", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-gb-scotland"),
                 None, (160, 210), (0, 0, 0, 1)),
    "CHN": Accent("CHN", "Chinese Speaking English Speech Data", ("cmn",), CHN, (100, 150), (2, 3, 4, 5, 6)),
    "IND": Accent("IND", "Indian English Speech Data", ("hi",), IND, (150, 200), (0, 0, 1)),
    "JPN": Accent("JPN", "Japanese Speaking English Speech Data", ("ja",), JPN, (95, 145), (1, 2, 3, 4, 5)),
    "KR": Accent("KR", "Korean Speaking English Speech Data", ("ko",), KR, (105, 155), (1, 2, 3, 4)),
    # pt-br reads every word with Portuguese rules; pt (European) hands some words to English,
    # which gives a milder accent.
    "PT": Accent("PT", "Portuguese Speaking English Speech Data", ("pt-br", "pt-br", "pt"),
                 None, (130, 180), (0, 1, 2)),
    "RU": Accent("RU", "Russian Speaking English Speech Data", ("ru",), RU, (115, 165), (0, 1, 2, 3)),
}

#: Accents that occur only in the released test labels; the data preparation drops them.
EXTRA_TEST_ACCENTS: Mapping[str, Accent] = {
    "CA": Accent("CA", None, ("en-us",), None, (160, 210), (0, 0, 0, 1)),
    "ES": Accent("ES", None, ("es",), None, (120, 170), (0, 1, 2, 3)),
}

#: Native English voices for LibriSpeech.
NATIVE_VOICES: tuple[str, ...] = (
    "en-us", "en-us", "en-gb", "en-gb-x-rp", "en-us-nyc", "en-gb-x-gbclan", "en-gb-x-gbcwmd",
    "en-gb-scotland",
)

#: Pseudo-accent of the LibriSpeech readers.
LIBRISPEECH_READER = Accent("LIBRI", None, NATIVE_VOICES)


def get_accent(code: str) -> Accent:
    if code in ACCENTS:
        return ACCENTS[code]
    if code in EXTRA_TEST_ACCENTS:
        return EXTRA_TEST_ACCENTS[code]
    raise KeyError(f"unknown accent code {code!r}; known: {sorted({**ACCENTS, **EXTRA_TEST_ACCENTS})}")
