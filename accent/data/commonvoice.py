"""Common Voice English accents (the CommonAccent setup) -> Kaldi data directories.

Layout of a release (``cv-corpus-<N>-<date>/en/``)::

    validated.tsv  train.tsv  dev.tsv  test.tsv  ...   tab-separated, one header line
    clips/common_voice_en_<N>.mp3                      MP3 (48 kHz mono)

The columns of a recent release are ``client_id path sentence_id sentence sentence_domain up_votes
down_votes age gender accents variant locale segment``; releases up to 7.0 have ``accent`` (one of
16 codes: us, england, ...) instead of ``accents`` (free text the speaker typed or picked, several
descriptors joined by ``|`` or ``,``).  Only ``client_id``, ``path``, ``sentence`` and the accent
column are read, by their names.

Why not lhotse's ``prepare_commonvoice``: it reads the ``accents``, ``variant`` and ``gender``
columns by name (a KeyError on the releases with ``accent``), opens every clip listed in the TSV
to build its manifests (over a million for English, where a few percent carry a usable accent),
and drops a listed clip that is missing with only a log line.  Here the TSV is filtered by accent
first, and only the selected clips are checked and decoded.

The CommonAccent setup (Zuluaga-Gomez et al., Interspeech 2023): the 16 accent classes of Common
Voice's own list (african australia bermuda canada england hongkong indian ireland malaysia
newzealand philippines scotland singapore southatlandtic us wales), read from ``validated.tsv``;
per class, dev and test each hold 100 utterances, or 20 % of the class when it has 500 or fewer,
and train the rest.  CommonAccent takes those utterances in file order, so a speaker's clips fall
into train and test alike; here whole speakers (``client_id``) are assigned instead, so the sets
are speaker-disjoint (see :func:`split_speakers`).  The official train/dev/test.tsv are not used:
they hold only part of the validated clips.

Accent labels are mapped to classes by a table file (``<class> TAB <label>`` lines, matched
case-insensitively with spaces squeezed): a field matches when it is a label of the table, or when
its descriptors (split at ``|``, then at commas outside parentheses) that are labels all name one
class.  Rows without an accent, with descriptors the table does not know, or naming several classes
are left out and counted in the selection summary, with the most frequent unknown labels.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

from accent.data.kaldi_dir import replacing_data_dir, text_lines, validate_data_dir, write_data_dir, write_text_atomic
from accent.data.problems import (CorpusError, Problem, check_audio, raise_unless_skipping, wav_scp_entries,
                                  write_bad_utts)
from accent.data.transcode import check_mp3_support, flac_paths, transcode_all
from accent.text.normalize import UNK_WORD, normalize_transcript

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("client_id", "path", "sentence")
ACCENT_COLUMNS = ("accents", "accent")  # recent releases, releases up to 7.0
SETS = ("train", "dev", "test")
# a speaker-disjoint train/dev/test split needs three speakers per class
MIN_SPEAKERS = 3


@dataclass(frozen=True)
class Clip:
    utt_id: str       # <client_id>-<clip stem>
    speaker: str      # client_id
    path: Path        # the MP3
    text: str
    accent: str       # the class


@dataclass
class Selection:
    """What the TSV held, what was kept and why the rest was left out."""

    rows: int = 0
    kept: Counter = field(default_factory=Counter)            # class -> clips
    no_accent: int = 0
    unknown: Counter = field(default_factory=Counter)          # accent field -> clips
    ambiguous: Counter = field(default_factory=Counter)        # accent field -> clips
    capped: int = 0                                            # over --max-utts-per-speaker
    mixed_speakers: Dict[str, List[str]] = field(default_factory=dict)  # client_id -> its classes
    small_classes: Dict[str, int] = field(default_factory=dict)         # class -> speakers (< 3)
    bad_files: int = 0


def _key(label: str) -> str:
    return " ".join(label.split()).casefold()


def read_accent_map(path: Path) -> Tuple[Dict[str, str], List[str]]:
    """The label -> class table and the classes in table order; errors name the file and line."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"{path}: accent table not found")
    table: Dict[str, str] = {}
    classes: List[str] = []
    for lineno, line in enumerate(text_lines(path, CorpusError), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cls, sep, label = line.partition("\t")
        cls, label = cls.strip(), label.strip()
        if not sep or not cls or not label or re.search(r"[\s\-]", cls):
            raise CorpusError(f"{path}:{lineno}: expected '<class> TAB <label>' with a class without spaces "
                              f"or '-', got {line!r}")
        if _key(label) in table and table[_key(label)] != cls:
            raise CorpusError(f"{path}:{lineno}: label {label!r} is already mapped to {table[_key(label)]}")
        table[_key(label)] = cls
        if cls not in classes:
            classes.append(cls)
    if not table:
        raise CorpusError(f"{path}: no '<class> TAB <label>' lines")
    return table, classes


def descriptors(field_value: str) -> List[str]:
    """The descriptors of an accent field: split at '|', then at commas outside parentheses."""
    out = []
    for part in field_value.split("|"):
        out += [d.strip() for d in re.split(r",(?![^()]*\))", part) if d.strip()]
    return out


def classify(field_value: str, table: Mapping[str, str]) -> Tuple[Optional[str], str]:
    """(class, "") for a field that names one class, else (None, why): no accent / unknown / ambiguous."""
    if not field_value.strip():
        return None, "no accent"
    if _key(field_value) in table:
        return table[_key(field_value)], ""
    found = {table[_key(d)] for d in descriptors(field_value) if _key(d) in table}
    if len(found) == 1:
        return found.pop(), ""
    return None, "ambiguous" if found else "unknown"


def read_tsv(path: Path) -> Tuple[str, List[Dict[str, str]]]:
    """Rows of a Common Voice TSV and the name of its accent column; a missing column or a row with
    another number of fields is an error naming the file (and line)."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"{path}: not found (is this a Common Voice language folder, e.g. cv-corpus-*/en?)")
    lines = text_lines(path, CorpusError)
    if not lines:
        raise CorpusError(f"{path}: empty file, expected a header line")
    # QUOTE_NONE: sentences hold unbalanced quotes, which csv's default quoting would join across lines
    header, *body = list(csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    accent_col = next((c for c in ACCENT_COLUMNS if c in header), None)
    if accent_col is None:
        missing.append(" or ".join(ACCENT_COLUMNS))
    if missing:
        raise CorpusError(f"{path}: no column {', '.join(missing)} in its header ({' '.join(header)})")
    rows = []
    for lineno, fields in enumerate(body, 2):
        if fields == [] or fields == [""]:
            continue
        if len(fields) != len(header):
            raise CorpusError(f"{path}:{lineno}: {len(fields)} fields, the header has {len(header)}")
        rows.append(dict(zip(header, fields)))
    return accent_col, rows


def select_clips(lang_dir: Path, table: Mapping[str, str], max_utts_per_speaker: int = 0
                 ) -> Tuple[List[Clip], Selection]:
    """The clips of ``validated.tsv`` whose accent names one class, and the counts of the rest."""
    tsv = Path(lang_dir) / "validated.tsv"
    accent_col, rows = read_tsv(tsv)
    sel = Selection(rows=len(rows))
    clips: List[Clip] = []
    per_speaker: Counter = Counter()
    for row in rows:
        cls, why = classify(row[accent_col], table)
        if cls is None:
            if why == "no accent":
                sel.no_accent += 1
            else:
                (sel.unknown if why == "unknown" else sel.ambiguous)[row[accent_col].strip()] += 1
            continue
        spk, name = row["client_id"].strip(), row["path"].strip()
        if not spk or not name or re.search(r"\s", spk + name):
            raise CorpusError(f"{tsv}: a row with an empty client_id or path, or white space in them: {row}")
        if max_utts_per_speaker and per_speaker[spk] >= max_utts_per_speaker:
            sel.capped += 1
            continue
        per_speaker[spk] += 1
        text = normalize_transcript(row["sentence"]) or UNK_WORD
        clips.append(Clip(f"{spk}-{Path(name).stem}", spk, Path(lang_dir) / "clips" / name, text, cls))
    # a speaker is one accent: a client whose clips name two classes is left out
    classes: Dict[str, set] = {}
    for c in clips:
        classes.setdefault(c.speaker, set()).add(c.accent)
    sel.mixed_speakers = {s: sorted(a) for s, a in classes.items() if len(a) > 1}
    clips = [c for c in clips if c.speaker not in sel.mixed_speakers]
    return clips, sel


def _order(speaker: str, seed: int) -> str:
    return hashlib.sha1(f"{seed}:{speaker}".encode()).hexdigest()


def split_speakers(utts_per_speaker: Mapping[str, int], seed: int = 0) -> Dict[str, str]:
    """Speaker -> set for one accent class: CommonAccent's sizes, with whole speakers.

    The target of dev and of test is 100 utterances, or 20 % of the class when it has 500 or fewer
    (CommonAccent's rule).  In a seeded random order, a speaker joins dev while its clips still fit
    under the target, then test likewise; the others are train.  A set left empty (every speaker too
    big) takes the smallest train speaker.  Each set keeps at least one speaker: dev and test never
    take the speakers that the sets after them need.  Needs at least three speakers.
    """
    if len(utts_per_speaker) < MIN_SPEAKERS:
        raise ValueError(f"{len(utts_per_speaker)} speakers; a speaker-disjoint split needs {MIN_SPEAKERS}")
    total = sum(utts_per_speaker.values())
    target = 100 if total > 500 else max(1, int(0.2 * total))
    order = sorted(utts_per_speaker, key=lambda s: _order(s, seed))
    assign = {s: "train" for s in order}
    left = len(order)  # speakers still in train
    for k, name in enumerate(("dev", "test")):
        keep = 2 - k  # train speakers the later sets need: one for test (after dev), one for train
        filled = 0
        for spk in order:
            if left > keep and assign[spk] == "train" and filled + utts_per_speaker[spk] <= target:
                assign[spk] = name
                filled += utts_per_speaker[spk]
                left -= 1
        if not filled:
            smallest = min((s for s in order if assign[s] == "train"), key=lambda s: (utts_per_speaker[s], _order(s, seed)))
            assign[smallest] = name
            left -= 1
    return assign


def summary_text(sel: Selection, sets: Mapping[str, List[Clip]], where: str) -> str:
    """The selection summary (``data/local/accent_selection.txt``): every row accounted for."""
    lines = [f"# accent selection from {where}", f"rows\t{sel.rows}"]
    for cls, n in sel.kept.items():
        spk = {name: len({c.speaker for c in clips if c.accent == cls}) for name, clips in sets.items()}
        utt = {name: sum(1 for c in clips if c.accent == cls) for name, clips in sets.items()}
        lines.append(f"kept\t{cls}\t{n}\t" + "\t".join(f"{s}={utt[s]} utts/{spk[s]} spk" for s in SETS))
    lines.append(f"left out: no accent\t{sel.no_accent}")
    lines.append(f"left out: accent not in the table\t{sum(sel.unknown.values())}")
    lines.append(f"left out: accent naming several classes\t{sum(sel.ambiguous.values())}")
    lines.append(f"left out: over --max-utts-per-speaker\t{sel.capped}")
    lines.append(f"left out: speakers with clips of several classes\t{len(sel.mixed_speakers)}")
    for cls, n in sel.small_classes.items():
        lines.append(f"left out: class {cls} with {n} speakers (a split needs {MIN_SPEAKERS})")
    lines.append(f"left out: bad audio files\t{sel.bad_files}")
    for label, n in sel.unknown.most_common(20):
        lines.append(f"unknown label\t{n}\t{label}")
    for label, n in sel.ambiguous.most_common(20):
        lines.append(f"ambiguous label\t{n}\t{label}")
    return "\n".join(lines) + "\n"


def prepare_commonaccent(
    lang_dir: Path,
    out_dir: Path,
    accent_map: Path,
    audio_dir: Path,
    sample_rate: int = 16000,
    seed: int = 0,
    max_utts_per_speaker: int = 0,
    skip_bad: bool = False,
    num_jobs: int = 4,
) -> Dict[str, Path]:
    """Write ``out_dir/{train,dev,test}`` and ``out_dir/local/accent_selection.txt``.

    The selected MP3s are decoded once into ``audio_dir/clips_<rate>/*.flac`` (see
    :mod:`accent.data.transcode`); unreadable ones are reported, or with ``skip_bad`` left out and
    listed in ``<set>/bad_utts``.
    """
    lang_dir, out_dir = Path(lang_dir), Path(out_dir)
    table, order = read_accent_map(accent_map)
    check_mp3_support()
    clips, sel = select_clips(lang_dir, table, max_utts_per_speaker)
    missing = [Problem(c.utt_id, c.path, "missing audio file") for c in clips if not c.path.is_file()]
    gone = {p.utt_id for p in missing}
    files = flac_paths({c.utt_id: c.path for c in clips if c.utt_id not in gone}, Path(audio_dir) / f"clips_{sample_rate}")
    problems = missing + transcode_all(files, sample_rate, num_jobs)
    infos, bad_flac = check_audio({u: dst for u, (_, dst) in files.items() if u not in {p.utt_id for p in problems}},
                                  sample_rate, False, num_jobs)
    problems += bad_flac
    raise_unless_skipping(problems, str(lang_dir), skip_bad)
    bad = {p.utt_id for p in problems}
    sel.bad_files = len(bad)
    clips = [c for c in clips if c.utt_id not in bad]

    by_class: Dict[str, Counter] = {}
    for c in clips:
        by_class.setdefault(c.accent, Counter())[c.speaker] += 1
    set_of: Dict[str, str] = {}
    for cls in order:
        if cls not in by_class:
            continue
        if len(by_class[cls]) < MIN_SPEAKERS:
            sel.small_classes[cls] = len(by_class[cls])
            continue
        set_of.update(split_speakers(by_class[cls], seed))
        sel.kept[cls] = sum(by_class[cls].values())
    labels = [cls for cls in order if cls in sel.kept]
    if not labels:
        raise CorpusError(f"{lang_dir / 'validated.tsv'}: no accent class with {MIN_SPEAKERS} or more speakers "
                          f"(see {accent_map}); {sel.rows} rows, {sel.no_accent} without an accent, "
                          f"{sum(sel.unknown.values())} with labels not in the table")
    sets = {name: [c for c in clips if set_of.get(c.speaker) == name] for name in SETS}
    wav_scp, _ = wav_scp_entries(infos, sample_rate)
    written = {}
    for name, members in sets.items():
        files_ = {
            "wav.scp": {c.utt_id: wav_scp[c.utt_id] for c in members},
            "text": {c.utt_id: c.text for c in members},
            "utt2spk": {c.utt_id: c.speaker for c in members},
            "utt2accent": {c.utt_id: c.accent for c in members},
            "utt2dur": {c.utt_id: f"{infos[c.utt_id].duration:.3f}" for c in members},
        }
        with replacing_data_dir(out_dir / name) as tmp:
            write_data_dir(tmp, files_, labels=labels)
            validate_data_dir(tmp)
        write_bad_utts(out_dir / name, [p for p in problems if set_of.get(p.utt_id.rsplit("-", 1)[0]) == name])
        log.info("%s: %d utterances, %d speakers", out_dir / name, len(members), len({c.speaker for c in members}))
        written[name] = out_dir / name
    (out_dir / "local").mkdir(parents=True, exist_ok=True)
    summary = out_dir / "local" / "accent_selection.txt"
    write_text_atomic(summary, summary_text(sel, sets, str(lang_dir / "validated.tsv")))
    log.info("%d of %d rows kept (%d without an accent, %d with labels not in %s, %d naming several classes); "
             "counts in %s", sum(len(m) for m in sets.values()), sel.rows, sel.no_accent, sum(sel.unknown.values()),
             accent_map, sum(sel.ambiguous.values()), summary)
    return written
