"""AESRC2020 (Datatang accented English) → Kaldi data directories.

Corpus layout (both releases)::

    <root>/<ACCENT_DIR>/<SPK>/<SPK>S<NNNN>.wav   16 kHz 16-bit mono PCM
    <root>/<ACCENT_DIR>/<SPK>/<SPK>S<NNNN>.txt   one line, mixed case, punctuation

``ACCENT_DIR`` is a long release name with spaces ("American English Speech
Data") or a short code (US); the later release nests them in
``Datatang-English/data/`` and adds CA and ES. Any other folder name is taken as
the label of a corpus in the same layout. Sixteen speaker IDs occur under two
accents, so speakers are keyed ``<ACC>-<SPK>`` and utterances
``<ACC>-<SPK>-<stem>``; the accent is the code before the first ``-``.

The released test set is one flat folder of ``AESRC2020-TESTSET-NNNNN.wav``
whose labels come from a separate two-column file.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

from accent.data.audio import AudioInfo
from accent.data.kaldi_dir import (
    DataDirError, read_mapping, replacing_data_dir, text_lines, validate_data_dir, write_data_dir,
)
from accent.data.problems import (CorpusError, Problem, check_audio, raise_unless_skipping, wav_scp_entries,
                                  write_bad_utts, write_converted_audio)
from accent.text.normalize import UNK_WORD, is_transcribed, normalize_transcript

log = logging.getLogger(__name__)

# Scoring order of the eight AESRC2020 accents, then the later release's extras.
AESRC_ACCENTS: Tuple[str, ...] = ("US", "UK", "CHN", "IND", "JPN", "KR", "PT", "RU")
EXTRA_ACCENTS: Tuple[str, ...] = ("CA", "ES")

RELEASE_NAMES: Dict[str, str] = {
    "American English Speech Data": "US",
    "British English Speech Data": "UK",
    "Chinese Speaking English Speech Data": "CHN",
    "Indian English Speech Data": "IND",
    "Japanese Speaking English Speech Data": "JPN",
    "Korean Speaking English Speech Data": "KR",
    "Portuguese Speaking English Speech Data": "PT",
    "Russian Speaking English Speech Data": "RU",
    "Canadian English Speech Data": "CA",
    "Spanish Speaking English Speech Data": "ES",
}

TEST_PATTERN = re.compile(r"^AESRC2020-TESTSET-\d+$")


@dataclass
class Utterance:
    utt_id: str
    spk_id: str
    accent: str
    wav: Path
    text: Optional[str] = None  # normalised; None for the unlabelled test set
    info: Optional[AudioInfo] = None


def accent_code(folder_name: str) -> str:
    """The label of an accent folder: the release name's code, else the folder name itself."""
    if folder_name in RELEASE_NAMES:
        return RELEASE_NAMES[folder_name]
    # a label becomes part of utterance IDs, which Kaldi splits on whitespace and we split on "-"
    return re.sub(r"[\s\-]+", "_", folder_name.strip())


def label_order(labels: Iterable[str]) -> List[str]:
    """AESRC order for the known accents, then any other label alphabetically."""
    labels = set(labels)
    known = [a for a in AESRC_ACCENTS + EXTRA_ACCENTS if a in labels]
    return known + sorted(labels - set(known))


def find_accent_dirs(root: Path) -> Dict[str, Path]:
    """Map accent code → folder, looking in ``root``, ``root/data`` and ``root/Datatang-English/data``."""
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"{root}: AESRC2020 root is not a directory")
    for base in (root, root / "data", root / "Datatang-English" / "data"):
        if not base.is_dir():
            continue
        found: Dict[str, Path] = {}
        for sub in sorted(p for p in base.iterdir() if p.is_dir()):
            # an accent folder holds speaker folders that hold audio
            if not any(spk.is_dir() and any(spk.glob("*.wav")) for spk in sub.iterdir()):
                continue
            code = accent_code(sub.name)
            if code in found:
                raise CorpusError(f"{base}: both '{found[code].name}' and '{sub.name}' hold accent {code}")
            found[code] = sub
        if found:
            return found
    raise CorpusError(
        f"{root}: no accent folders found (expected <ACCENT>/<SPK>/<SPK>S<NNNN>.wav "
        "under the root, root/data or root/Datatang-English/data)"
    )


def read_transcript(path: Path) -> str:
    """The one line of an AESRC ``.txt`` (often without a final newline), normalised."""
    if not path.is_file():
        raise CorpusError(f"{path}: missing transcript")
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise CorpusError(f"{path}: transcript is not UTF-8 ({e})") from None
    lines = [line for line in raw.splitlines() if line.strip()]
    if not lines:
        raise CorpusError(f"{path}: empty transcript")
    if len(lines) > 1:
        raise CorpusError(f"{path}: transcript has {len(lines)} lines, expected one")
    text = normalize_transcript(lines[0])
    if not text:
        raise CorpusError(f"{path}: transcript has no words after normalisation: {lines[0]!r}")
    return text


def read_dev_speakers(path: Path) -> Set[Tuple[str, str]]:
    """Read a speaker list: one speaker per line, as ``<ACC> <SPK>`` (the dev list's format) or as
    the toolkit's speaker key ``<ACC>-<SPK>`` (``#`` starts a comment)."""
    pairs: Set[Tuple[str, str]] = set()
    for lineno, line in enumerate(text_lines(path, CorpusError), 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) == 1 and "-" in fields[0]:
            fields = fields[0].split("-", 1)
        if len(fields) != 2:
            raise CorpusError(f"{path}:{lineno}: expected '<ACCENT> <SPEAKER>' or '<ACCENT>-<SPEAKER>', "
                              f"got {line.strip()!r}")
        pairs.add((fields[0], fields[1]))
    return pairs


def scan_corpus(root: Path, accents: Optional[Sequence[str]] = None) -> Tuple[List[Utterance], List[Problem]]:
    """List the utterances of a corpus in the AESRC layout with their transcripts."""
    dirs = find_accent_dirs(root)
    if accents:
        unknown = sorted(set(accents) - set(dirs))
        if unknown:
            raise CorpusError(f"{root}: accents {unknown} requested but not found (found {sorted(dirs)})")
        dirs = {a: d for a, d in dirs.items() if a in accents}
    utts: List[Utterance] = []
    problems: List[Problem] = []
    seen: Dict[str, Path] = {}
    for code, acc_dir in sorted(dirs.items()):
        for spk_dir in sorted(p for p in acc_dir.iterdir() if p.is_dir()):
            spk_id = f"{code}-{spk_dir.name}"
            for txt in sorted(spk_dir.glob("*.txt")):
                if not txt.with_suffix(".wav").exists():
                    problems.append(Problem(f"{spk_id}-{txt.stem}", txt, "transcript without audio"))
            for wav in sorted(spk_dir.glob("*.wav")):
                utt_id = f"{spk_id}-{wav.stem}"
                if " " in utt_id:
                    problems.append(Problem(utt_id, wav, "white space in speaker or file name"))
                    continue
                if utt_id in seen:
                    problems.append(Problem(utt_id, wav, f"duplicate utterance ID {utt_id} (also {seen[utt_id]})"))
                    continue
                seen[utt_id] = wav
                try:
                    text = read_transcript(wav.with_suffix(".txt"))
                except CorpusError as e:
                    problems.append(Problem(utt_id, wav.with_suffix(".txt"), str(e).split(": ", 1)[1]))
                    continue
                utts.append(Utterance(utt_id, spk_id, code, wav, text))
    return utts, problems


def scan_test_set(test_dir: Path, labels_file: Optional[Path], keep_labels: Sequence[str]) -> Tuple[List[Utterance], List[Problem]]:
    """The flat released test folder; labels from a two-column file, kept only for ``keep_labels``."""
    test_dir = Path(test_dir)
    if not test_dir.is_dir():
        raise CorpusError(f"{test_dir}: test set folder not found")
    wavs = {w.stem: w for w in sorted(test_dir.glob("*.wav"))}
    if not wavs:
        raise CorpusError(f"{test_dir}: no .wav files")
    problems = [Problem(s, w, "not an AESRC2020-TESTSET-NNNNN.wav name") for s, w in wavs.items() if not TEST_PATTERN.match(s)]
    if labels_file is None:
        return [Utterance(s, s, "", w) for s, w in wavs.items() if TEST_PATTERN.match(s)], problems
    try:
        labels = read_mapping(labels_file)
    except (DataDirError, OSError) as e:
        raise CorpusError(f"{labels_file}: {e}") from None
    for utt in sorted(set(labels) - set(wavs)):
        problems.append(Problem(utt, Path(labels_file), f"label for {utt} but no {utt}.wav in {test_dir}"))
    utts, dropped = [], {}
    for stem, wav in wavs.items():
        if not TEST_PATTERN.match(stem):
            continue
        if stem not in labels:
            problems.append(Problem(stem, wav, f"no label in {labels_file}"))
        elif labels[stem] not in keep_labels:
            dropped[labels[stem]] = dropped.get(labels[stem], 0) + 1
        else:
            utts.append(Utterance(stem, stem, labels[stem], wav))
    for label, n in sorted(dropped.items()):
        log.info("test set: %d utterances labelled %s left out (not a training accent)", n, label)
    return utts, problems


def probe_all(utts: List[Utterance], sample_rate: int, convert_audio: bool, num_jobs: int) -> List[Problem]:
    """Check every utterance's audio header, filling ``info``; return the bad ones."""
    infos, problems = check_audio({u.utt_id: u.wav for u in utts}, sample_rate, convert_audio, num_jobs)
    for u in utts:
        u.info = infos.get(u.utt_id)
    return problems


def write_set(out_dir: Path, utts: List[Utterance], labels: List[str], sample_rate: int, bad: List[Problem]) -> None:
    """Write one data directory anew, with its ``bad_utts`` and ``converted_audio`` lists (when any)."""
    wav_scp, converted = wav_scp_entries({u.utt_id: u.info for u in utts}, sample_rate)
    files = {
        "wav.scp": wav_scp,
        "utt2spk": {u.utt_id: u.spk_id for u in utts},
        "utt2dur": {u.utt_id: f"{u.info.duration:.3f}" for u in utts if u.info},
    }
    if all(u.accent for u in utts):
        files["utt2accent"] = {u.utt_id: u.accent for u in utts}
    if all(u.text is not None for u in utts):
        files["text"] = {u.utt_id: u.text for u in utts}
    with replacing_data_dir(out_dir) as tmp:
        write_data_dir(tmp, files, labels=labels)
        validate_data_dir(tmp)
    write_bad_utts(out_dir, bad)
    write_converted_audio(out_dir, converted)


def prepare_aesrc(
    root: Path,
    out_dir: Path,
    dev_spk_list: Path,
    sample_rate: int = 16000,
    accents: Optional[Sequence[str]] = None,
    test_dir: Optional[Path] = None,
    test_labels: Optional[Path] = None,
    skip_bad: bool = False,
    convert_audio: bool = False,
    num_jobs: int = 4,
    test_spk_list: Optional[Path] = None,
) -> Dict[str, Path]:
    """Write ``out_dir/{train,dev[,test]}`` from an AESRC2020-layout corpus.

    The test set is either the release's flat test folder (``test_dir``, labels from
    ``test_labels``) or, for corpora in this layout that hold their test speakers in the same tree
    (``lists/test_spk.txt`` of SAA-dev), the speakers of ``test_spk_list``, with their labels.
    Every bad file is collected first; then either all are reported in one error
    or, with ``skip_bad``, left out and listed in ``<set>/bad_utts``.
    """
    if test_dir is not None and test_spk_list is not None:
        raise CorpusError("give the test set either as a folder (test_dir) or as a speaker list (test_spk_list)")
    out_dir = Path(out_dir)
    utts, problems = scan_corpus(root, accents)
    problems += probe_all(utts, sample_rate, convert_audio, num_jobs)
    raise_unless_skipping(problems, str(root), skip_bad)
    bad_ids = {p.utt_id for p in problems}
    utts = [u for u in utts if u.utt_id not in bad_ids]
    if not utts:
        raise CorpusError(f"{root}: no usable utterances")
    labels = label_order(u.accent for u in utts)

    dev_pairs = read_dev_speakers(dev_spk_list)
    present = {(u.accent, u.spk_id.split("-", 1)[1]) for u in utts}
    missing = sorted(p for p in dev_pairs - present if p[0] in labels)
    if missing:
        log.warning("%s: %d dev speakers not in the corpus, e.g. %s", dev_spk_list, len(missing), missing[:3])
    held_out = {"dev": dev_pairs}
    if test_spk_list is not None:
        held_out["test"] = read_dev_speakers(test_spk_list)
        both = sorted(dev_pairs & held_out["test"])
        if both:
            raise CorpusError(f"{dev_spk_list} and {test_spk_list} share speakers, e.g. {both[:3]}")
    set_of = {}
    for u in utts:
        pair = (u.accent, u.spk_id.split("-", 1)[1])
        set_of[u.utt_id] = next((name for name, pairs in held_out.items() if pair in pairs), "train")
    sets = {name: [u for u in utts if set_of[u.utt_id] == name] for name in ["train", *held_out]}
    for name, members in sets.items():
        if not members:
            raise CorpusError(f"{test_spk_list if name == 'test' else dev_spk_list}: the {name} set would be empty")
    spk_set = {u.spk_id: set_of[u.utt_id] for u in utts}
    bad_by_set: Dict[str, List[Problem]] = {name: [] for name in sets}
    for p in problems:
        bad_by_set[spk_set.get(p.utt_id.rsplit("-", 1)[0], "train")].append(p)
    written = {}
    for name, members in sets.items():
        write_set(out_dir / name, members, labels, sample_rate, bad_by_set[name])
        log.info("%s: %d utterances, %d speakers", out_dir / name, len(members), len({u.spk_id for u in members}))
        untranscribed = sum(1 for u in members if not is_transcribed(u.text or ""))
        if untranscribed:
            log.warning("%s: %d of %d transcripts hold %s (no word alignment): accent labels only, no CTC "
                        "targets", out_dir / name, untranscribed, len(members), UNK_WORD)
        written[name] = out_dir / name

    if test_dir is not None:
        test_utts, test_problems = scan_test_set(test_dir, test_labels, labels)
        test_problems += probe_all(test_utts, sample_rate, convert_audio, num_jobs)
        raise_unless_skipping(test_problems, str(test_dir), skip_bad)
        bad_ids = {p.utt_id for p in test_problems}
        test_utts = [u for u in test_utts if u.utt_id not in bad_ids]
        write_set(out_dir / "test", test_utts, labels, sample_rate, test_problems)
        log.info("%s: %d utterances", out_dir / "test", len(test_utts))
        written["test"] = out_dir / "test"
    return written
