"""Kaldi data directories: the common language between recipe stages.

A data directory holds one-line-per-key text files sorted in C-locale order:
``wav.scp``, ``text``, ``utt2spk``, ``spk2utt``, ``utt2accent``, ``utt2dur``,
``feats.scp``, ``utt2num_frames``, ``text.phn``. Utterance IDs start with the
speaker ID so that sorting keeps a speaker's utterances together.
"""

from __future__ import annotations

import logging
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Mapping, Optional, Sequence

from accent.utils.files import (  # noqa: F401  (the data dir's file primitives, re-exported)
    DataDirError, c_order, read_list, read_mapping, text_lines, write_bytes_atomic, write_list, write_mapping,
    write_text_atomic,
)

log = logging.getLogger(__name__)

# Files keyed by utterance ID (there are no segments: one recording per utterance).
UTT_FILES = (
    "wav.scp",
    "text",
    "utt2spk",
    "utt2accent",
    "utt2dur",
    "feats.scp",
    "utt2num_frames",
    "text.phn",
)
# The ones of this toolkit, not Kaldi's: Kaldi's data tools carry them only when told to.
TOOLKIT_UTT_FILES = ("utt2accent", "text.phn")



def utt2spk_to_spk2utt(utt2spk: Mapping[str, str]) -> Dict[str, str]:
    spk2utts: Dict[str, List[str]] = {}
    for utt in sorted(utt2spk, key=c_order):
        spk2utts.setdefault(utt2spk[utt], []).append(utt)
    return {spk: " ".join(utts) for spk, utts in spk2utts.items()}


def read_durations(data_dir: os.PathLike, utts: Sequence[str]) -> List[float]:
    """Seconds of each of ``utts`` from ``<data_dir>/utt2dur``: each must have a positive number."""
    path = Path(data_dir) / "utt2dur"
    if not path.is_file():
        raise DataDirError(f"{path}: missing (data preparation writes it: each utterance's duration in seconds)")
    durs = read_mapping(path)
    missing = [u for u in utts if u not in durs]
    if missing:
        raise DataDirError(f"{path}: no entry for {len(missing)} utterances of wav.scp, e.g. {missing[0]}")
    out = []
    for u in utts:
        try:
            out.append(float(durs[u]))
        except ValueError:
            raise DataDirError(f"{path}: {u}: duration {durs[u]!r} is not a number") from None
        if not out[-1] > 0:
            raise DataDirError(f"{path}: {u}: duration {durs[u]} is not positive")
    return out


def write_data_dir(
    data_dir: os.PathLike,
    files: Mapping[str, Mapping[str, object]],
    labels: Optional[Sequence[str]] = None,
) -> None:
    """Write a data directory from per-utterance mappings and derive ``spk2utt``.

    ``files`` maps a file name (``wav.scp``, ``text``, ``utt2spk``...) to its
    contents. ``labels``, when given, is the accent label set in scoring order,
    stored as ``data_dir/accents`` so that the label set travels with the data.
    """
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    for name, mapping in files.items():
        write_mapping(data_dir / name, mapping)
    if "utt2spk" in files:
        write_mapping(data_dir / "spk2utt", utt2spk_to_spk2utt(files["utt2spk"]))
    if labels is not None:
        write_list(data_dir / "accents", labels)


@contextmanager
def replacing_data_dir(dst: os.PathLike) -> Iterator[Path]:
    """Make ``dst`` anew: yields an empty directory next to it, which replaces ``dst`` when the
    block ends without an error (else it is removed and ``dst`` is left as it was).

    A step that makes a data directory writes all of it this way, so no file of an earlier
    version (features, ``text.phn``, markers of later steps) survives to describe other
    utterances, and a failed step leaves the old directory whole.
    """
    dst = Path(dst)
    tmp, old = dst.with_name(dst.name + ".tmp"), dst.with_name(dst.name + ".old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    if dst.exists():
        os.replace(dst, old)
    os.replace(tmp, dst)
    shutil.rmtree(old, ignore_errors=True)


def validate_data_dir(
    data_dir: os.PathLike,
    require: Sequence[str] = ("wav.scp", "utt2spk", "spk2utt"),
    skip: Sequence[str] = (),
) -> int:
    """Check a data directory as Kaldi's ``validate_data_dir.sh`` does.

    Every file present must be sorted, free of duplicates and cover exactly the
    utterances of ``utt2spk``; ``spk2utt`` must be the inverse of ``utt2spk``;
    utterance IDs must start with their speaker ID. Files in ``skip`` are neither
    required nor checked (Kaldi's ``--no-text``, ``--no-feats``, ``--no-wav``).
    Raises :class:`DataDirError` listing every problem found; returns the number
    of utterances.
    """
    data_dir = Path(data_dir)
    problems: List[str] = []
    for name in require:
        if name in skip:
            continue
        if not (data_dir / name).is_file():
            problems.append(f"{data_dir / name}: missing")
    if problems:
        raise DataDirError(f"invalid data dir {data_dir}:\n  " + "\n  ".join(problems))

    utt2spk = _read_checked(data_dir / "utt2spk", problems)
    utts = set(utt2spk)
    for utt, spk in utt2spk.items():
        if not utt.startswith(spk):
            problems.append(f"{data_dir / 'utt2spk'}: utterance {utt} does not start with its speaker ID {spk}")
            break
    for name in UTT_FILES:
        path = data_dir / name
        if name == "utt2spk" or name in skip or not path.is_file():
            continue
        keys = set(_read_checked(path, problems, allow_empty_value=(name in ("text", "text.phn"))))
        missing, extra = utts - keys, keys - utts
        if missing:
            problems.append(f"{path}: {len(missing)} utterances of utt2spk missing, e.g. {sorted(missing)[0]}")
        if extra:
            hint = ""
            if name in TOOLKIT_UTT_FILES:
                # Kaldi's own tools do not know this file, so they leave it unfiltered
                hint = (f" (a Kaldi tool that does not know {name} left it as it was: run this toolkit's "
                        f"utils/fix_data_dir.sh, or Kaldi's with --utt-extra-files \"{' '.join(TOOLKIT_UTT_FILES)}\")")
            problems.append(f"{path}: {len(extra)} utterances not in utt2spk, e.g. {sorted(extra)[0]}{hint}")
    spk2utt_path = data_dir / "spk2utt"
    if spk2utt_path.is_file():
        spk2utt = _read_checked(spk2utt_path, problems)
        if spk2utt != utt2spk_to_spk2utt(utt2spk):
            problems.append(f"{spk2utt_path}: not the inverse of utt2spk (run utils/fix_data_dir.sh)")
    accents_path = data_dir / "accents"
    if (data_dir / "utt2accent").is_file() and accents_path.is_file():
        labels = set(read_list(accents_path))
        used = set(read_mapping(data_dir / "utt2accent").values())
        if used - labels:
            problems.append(f"{data_dir / 'utt2accent'}: labels {sorted(used - labels)} not listed in {accents_path}")
    if problems:
        raise DataDirError(f"invalid data dir {data_dir}:\n  " + "\n  ".join(problems))
    return len(utts)


def _read_checked(path: Path, problems: List[str], allow_empty_value: bool = False) -> Dict[str, str]:
    try:
        mapping = read_mapping(path, allow_empty_value=allow_empty_value)
    except DataDirError as e:
        problems.append(str(e))
        return {}
    keys = list(mapping)
    if keys != sorted(keys, key=c_order):
        problems.append(f"{path}: not sorted in C-locale order")
    return mapping


def subset_data_dir(src: os.PathLike, dst: os.PathLike, utts: Iterable[str]) -> int:
    """Write ``dst`` with the given utterances of ``src`` (every per-utterance file is filtered,
    the label set and the FBank options copied); returns the number of utterances."""
    src, dst = Path(src), Path(dst)
    keep = set(utts)
    dst.mkdir(parents=True, exist_ok=True)
    files = {}
    for name in UTT_FILES:
        if (src / name).is_file():
            mapping = read_mapping(src / name, allow_empty_value=True)
            files[name] = {k: v for k, v in mapping.items() if k in keep}
    write_data_dir(dst, files)
    if (src / "accents").is_file():
        shutil.copyfile(src / "accents", dst / "accents")
    if (src / "conf" / "fbank.yaml").is_file() and "feats.scp" in files:
        (dst / "conf").mkdir(exist_ok=True)
        shutil.copyfile(src / "conf" / "fbank.yaml", dst / "conf" / "fbank.yaml")
    return len(files.get("utt2spk", {}))


def select_utterances(
    data_dir: os.PathLike,
    num: Optional[int] = None,
    how: str = "even",
    utt_list: Optional[os.PathLike] = None,
    spk_list: Optional[os.PathLike] = None,
    seed: int = 777,
) -> List[str]:
    """The utterances Kaldi's ``subset_data_dir.sh`` would keep.

    ``utt_list`` / ``spk_list``: those named in the file (first column).  Else ``num`` of them by
    ``how``: ``even`` (Kaldi's default, ``subset_scp.pl``: spread evenly through the sorted list),
    ``first``, ``last``, ``speakers`` (whole speakers in a random order, fixed by ``seed``, until
    there are ``num`` utterances), ``per-spk`` (up to ``num`` per speaker, spread evenly) or
    ``shortest`` (by ``utt2num_frames``, else ``utt2dur``).
    """
    data_dir = Path(data_dir)
    utt2spk = read_mapping(data_dir / "utt2spk")
    utts = list(utt2spk)
    if utt_list is not None:
        wanted = {line.split()[0] for line in Path(utt_list).read_text(encoding="utf-8").splitlines() if line.strip()}
        return [u for u in utts if u in wanted]
    if spk_list is not None:
        wanted = {line.split()[0] for line in Path(spk_list).read_text(encoding="utf-8").splitlines() if line.strip()}
        return [u for u in utts if utt2spk[u] in wanted]
    if num is None or num < 0:
        raise DataDirError(f"{data_dir}: give a number of utterances, --utt-list or --spk-list")
    if how == "per-spk":
        spk2utt = utt2spk_to_spk2utt(utt2spk)
        return sorted((u for spk_utts in spk2utt.values() for u in _evenly(spk_utts.split(), num)), key=c_order)
    if how == "speakers":
        import random

        spk2utt = utt2spk_to_spk2utt(utt2spk)
        speakers = list(spk2utt)
        random.Random(seed).shuffle(speakers)
        chosen: List[str] = []
        for spk in speakers:
            if len(chosen) >= num:
                break
            chosen.extend(spk2utt[spk].split())
        return sorted(chosen, key=c_order)
    if num > len(utts):
        raise DataDirError(f"{data_dir}: cannot subset to {num} utterances, it has {len(utts)}")
    if how == "first":
        return utts[:num]
    if how == "last":
        return utts[len(utts) - num:]
    if how == "shortest":
        for name in ("utt2num_frames", "utt2dur"):
            if (data_dir / name).is_file():
                lengths = {u: float(v) for u, v in read_mapping(data_dir / name).items()}
                return sorted(sorted(utts, key=lambda u: (lengths[u], c_order(u)))[:num], key=c_order)
        raise DataDirError(f"{data_dir}: --shortest needs utt2num_frames or utt2dur")
    if how == "even":
        return _evenly(utts, num)
    raise ValueError(f"unknown selection {how!r}")


def _evenly(items: Sequence[str], num: int) -> List[str]:
    """``num`` items spread evenly through ``items`` (Kaldi's subset_scp.pl), all if fewer."""
    if num >= len(items):
        return list(items)
    return [items[(2 * i + 1) * len(items) // (2 * num)] for i in range(num)]


def fix_data_dir(data_dir: os.PathLike, utt_extra_files: Sequence[str] = (),
                 spk_extra_files: Sequence[str] = ()) -> int:
    """Keep the utterances present in every per-utterance file, sort, and rebuild ``spk2utt``.

    As Kaldi's ``fix_data_dir.sh``, which also filters ``utt_extra_files`` (keyed by utterance)
    and ``spk_extra_files`` (keyed by speaker); this toolkit's own files (``utt2accent``,
    ``text.phn``) are filtered without being named.  The utterances removed are listed in
    ``data_dir/.backup/removed`` so that nothing disappears silently.
    """
    data_dir = Path(data_dir)
    names = list(dict.fromkeys([*UTT_FILES, *utt_extra_files]))
    present = {n: read_mapping(data_dir / n, allow_empty_value=True) for n in names if (data_dir / n).is_file()}
    if "utt2spk" not in present:
        raise DataDirError(f"{data_dir / 'utt2spk'}: missing")
    keep = set.intersection(*(set(m) for m in present.values()))
    removed = sorted(set.union(*(set(m) for m in present.values())) - keep)
    if removed:
        backup = data_dir / ".backup"
        backup.mkdir(exist_ok=True)
        write_list(backup / "removed", removed)
    write_data_dir(data_dir, {n: {k: v for k, v in m.items() if k in keep} for n, m in present.items()})
    speakers = {present["utt2spk"][u] for u in keep}
    for name in spk_extra_files:
        if (data_dir / name).is_file():
            mapping = read_mapping(data_dir / name, allow_empty_value=True)
            write_mapping(data_dir / name, {k: v for k, v in mapping.items() if k in speakers})
    return len(keep)


def split_data_dir(data_dir: os.PathLike, nj: int, per_utt: bool = False) -> List[Path]:
    """Split into ``data_dir/split<nj>/{1..nj}`` by speaker, as Kaldi's ``split_data.sh``.

    Speakers are kept whole and assigned in order so that each split has about
    the same number of utterances; with ``per_utt`` (Kaldi's ``--per-utt``) the
    utterances are split evenly, speakers across splits, into ``split<nj>utt/``.
    An existing split is reused when it is newer
    than every file of the directory, so a rerun does not rewrite it (but a new
    ``wav.scp`` with the same utterances is split again).
    """
    data_dir = Path(data_dir)
    split_root = data_dir / (f"split{nj}utt" if per_utt else f"split{nj}")
    parts = [split_root / str(j) for j in range(1, nj + 1)]
    stamp = split_root / ".done"
    sources = [data_dir / n for n in (*UTT_FILES, "spk2utt") if (data_dir / n).is_file()]
    if stamp.is_file() and all(stamp.stat().st_mtime_ns >= p.stat().st_mtime_ns for p in sources):
        return parts
    spk2utt = read_mapping(data_dir / "spk2utt")
    if per_utt:
        # each utterance a speaker of its own, for the assignment below
        spk2utt = {u: u for utts in spk2utt.values() for u in utts.split()}
    if len(spk2utt) < nj:
        what = "utterances" if per_utt else "speakers"
        raise DataDirError(f"{data_dir}: cannot split {len(spk2utt)} {what} into {nj} jobs; use a smaller --nj")
    total = sum(len(u.split()) for u in spk2utt.values())
    groups: List[List[str]] = [[] for _ in range(nj)]
    done, j = 0, 0
    speakers = list(spk2utt.items())
    for i, (spk, utts) in enumerate(speakers):
        groups[j].extend(utts.split())
        done += len(utts.split())
        left_spk = len(speakers) - i - 1
        # move on once this split has its share, keeping one speaker for each later split
        if j < nj - 1 and (done >= total * (j + 1) / nj or left_spk <= nj - 1 - j):
            j += 1
    if stamp.exists():
        stamp.unlink()
    for part, utts in zip(parts, groups):
        if part.exists():
            shutil.rmtree(part)
        subset_data_dir(data_dir, part, utts)
    stamp.touch()
    return parts


def combine_data_dirs(dst: os.PathLike, srcs: Sequence[os.PathLike], extra_files: Sequence[str] = ()) -> int:
    """Union of data directories, as Kaldi's ``combine_data.sh``; returns the number of utterances.

    A per-utterance file (of :data:`UTT_FILES`, or one of ``extra_files``, Kaldi's
    ``--extra-files``) is kept only when every source has it (``utt2accent`` of AESRC does not
    survive a union with LibriSpeech); the dropped ones are logged.  An utterance ID in two sources
    is an error.  ``dst`` appears complete or not at all.
    """
    dst, srcs = Path(dst), [Path(s) for s in srcs]
    if not srcs:
        raise ValueError("combine_data_dirs: no source directories")
    for s in srcs:
        validate_data_dir(s, require=("utt2spk", "spk2utt"))  # a features-only dir combines too
    candidates = list(dict.fromkeys([*UTT_FILES, *extra_files]))
    names = [n for n in candidates if all((s / n).is_file() for s in srcs)]
    dropped = sorted({n for s in srcs for n in candidates if (s / n).is_file()} - set(names))
    if dropped:
        log.warning("%s: %s not in every source, left out", dst, ", ".join(dropped))
    files: Dict[str, Dict[str, str]] = {n: {} for n in names}
    owner: Dict[str, Path] = {}
    for s in srcs:
        for utt in read_mapping(s / "utt2spk"):
            if utt in owner:
                raise DataDirError(f"utterance {utt} is in both {owner[utt]} and {s}; cannot combine")
            owner[utt] = s
        for n in names:
            files[n].update(read_mapping(s / n, allow_empty_value=True))
    # features of one directory are made one way (data/<set>/conf/fbank.yaml, stage 2)
    confs = {(s / "conf" / "fbank.yaml").read_text() if (s / "conf" / "fbank.yaml").is_file() else None for s in srcs}
    if "feats.scp" in names and len(confs) > 1:
        raise DataDirError(f"{', '.join(map(str, srcs))}: features made with different FBank options "
                           "(conf/fbank.yaml); cannot combine")
    with replacing_data_dir(dst) as tmp:
        write_data_dir(tmp, files)
        if "feats.scp" in names and None not in confs:
            (tmp / "conf").mkdir()
            write_text_atomic(tmp / "conf" / "fbank.yaml", confs.pop())
        n = validate_data_dir(tmp, require=("utt2spk", "spk2utt"))
    return n
