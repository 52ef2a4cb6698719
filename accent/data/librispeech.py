"""LibriSpeech → Kaldi data directories, through lhotse's ``prepare_librispeech``.

Layout: ``<root>/<part>/<spk>/<chapter>/<spk>-<chapter>-<NNNN>.flac`` and
``<spk>-<chapter>.trans.txt`` with ``<utt> UPPER CASE TEXT`` lines.

lhotse skips a listed but missing FLAC with only a log warning and stops at the
first unreadable one, so every listed file is checked here first: all bad files
are reported together, or with ``skip_bad`` lhotse is run on a symlinked view
of the corpus without them.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Dict, List, Mapping, Tuple

from accent.data.audio import AudioInfo
from accent.data.kaldi_dir import replacing_data_dir, text_lines, validate_data_dir, write_data_dir
from accent.data.problems import (CorpusError, Problem, check_audio, raise_unless_skipping, wav_scp_entries,
                                  write_bad_utts, write_converted_audio)
from accent.text.normalize import normalize_transcript

log = logging.getLogger(__name__)


def list_part(part_dir: Path) -> Tuple[Dict[str, Path], List[Problem]]:
    """The utterances the transcripts of one part promise, and the lines that are malformed."""
    utts: Dict[str, Path] = {}
    problems: List[Problem] = []
    trans_files = sorted(part_dir.rglob("*.trans.txt"))
    if not trans_files:
        raise CorpusError(f"{part_dir}: no *.trans.txt files (is this a LibriSpeech part?)")
    for trans in trans_files:
        for lineno, line in enumerate(text_lines(trans, CorpusError), 1):
            utt, _, text = line.strip().partition(" ")
            if not utt:
                continue
            if not text.strip():
                problems.append(Problem(utt, trans, f"line {lineno}: empty transcript"))
            elif not normalize_transcript(text):  # as the AESRC transcripts: caught here, not at G2P
                problems.append(Problem(utt, trans, f"line {lineno}: transcript has no words after normalisation: "
                                                    f"{text.strip()!r}"))
            elif utt in utts:
                problems.append(Problem(utt, trans, f"line {lineno}: duplicate utterance ID {utt}"))
            utts[utt] = trans.parent / f"{utt}.flac"
    return utts, problems


def make_view(corpus_dir: Path, view_dir: Path, parts: List[str], bad: set) -> None:
    """A symlinked copy of the corpus without the bad utterances (lhotse reads only what is listed)."""
    if view_dir.exists():
        shutil.rmtree(view_dir)
    for part in parts:
        for trans in sorted((corpus_dir / part).rglob("*.trans.txt")):
            dst = view_dir / trans.relative_to(corpus_dir)
            dst.parent.mkdir(parents=True, exist_ok=True)
            kept = [line for line in text_lines(trans, CorpusError) if line.split(" ", 1)[0] not in bad]
            dst.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")
            for line in kept:
                utt = line.split(" ", 1)[0]
                (dst.parent / f"{utt}.flac").symlink_to((trans.parent / f"{utt}.flac").resolve())


def prepare_librispeech_dirs(
    corpus_dir: Path,
    out_dir: Path,
    parts: Mapping[str, str],
    manifest_dir: Path,
    sample_rate: int = 16000,
    skip_bad: bool = False,
    num_jobs: int = 4,
    convert_audio: bool = False,
) -> Dict[str, Path]:
    """Write the data directories: ``parts`` maps a part name to the set it joins (several parts may share one).

    Bad files are reported or (``skip_bad``) left out, and files that are not mono at
    ``sample_rate`` converted by sox pipes (``convert_audio``), as for AESRC (:mod:`accent.data.problems`).
    """
    from lhotse.recipes import prepare_librispeech  # heavy import, only for this stage

    corpus_dir, out_dir, manifest_dir = Path(corpus_dir), Path(out_dir), Path(manifest_dir)
    expected: Dict[str, Dict[str, Path]] = {}
    problems: List[Problem] = []
    infos: Dict[str, AudioInfo] = {}
    for part in parts:
        if not (corpus_dir / part).is_dir():
            raise CorpusError(f"{corpus_dir / part}: LibriSpeech part not found")
        expected[part], bad_lines = list_part(corpus_dir / part)
        part_infos, bad_audio = check_audio(expected[part], sample_rate, convert_audio, num_jobs)
        problems += bad_lines + bad_audio
        infos.update(part_infos)
    raise_unless_skipping(problems, str(corpus_dir), skip_bad)
    bad = {p.utt_id for p in problems}
    source = corpus_dir
    if bad:
        source = manifest_dir / "corpus_view"
        make_view(corpus_dir, source, list(parts), bad)
    # lhotse reuses manifests it finds in output_dir; they are rebuilt when the stage reruns from scratch
    manifests = prepare_librispeech(source, dataset_parts=list(parts), output_dir=manifest_dir, num_jobs=num_jobs)

    sets: Dict[str, List[str]] = {}
    for part, name in parts.items():
        sets.setdefault(name, []).append(part)
    written = {}
    for name, set_parts in sets.items():
        sups = [s for part in set_parts for s in manifests[part]["supervisions"]]
        recs = [r for part in set_parts for r in manifests[part]["recordings"]]
        got = {s.id for s in sups}
        want = {u for part in set_parts for u in expected[part]} - bad
        if got != want:
            lost = sorted(want - got)[:5]
            raise CorpusError(f"{corpus_dir}: lhotse prepared {len(got)} of {len(want)} utterances of {set_parts}, missing e.g. {lost}")
        # the corpus's own files (not the view's links), checked above
        wav_scp, converted = wav_scp_entries({r.id: infos[r.id] for r in recs}, sample_rate)
        files = {
            "wav.scp": wav_scp,
            "text": {s.id: normalize_transcript(s.text) for s in sups},
            "utt2spk": {s.id: s.speaker for s in sups},
            "utt2dur": {s.id: f"{s.duration:.3f}" for s in sups},
        }
        set_dir = out_dir / name
        with replacing_data_dir(set_dir) as tmp:
            write_data_dir(tmp, files)
            validate_data_dir(tmp)
        write_bad_utts(set_dir, [p for p in problems if any(p.utt_id in expected[part] for part in set_parts)])
        write_converted_audio(set_dir, converted)
        log.info("%s: %d utterances, %d speakers (%s)", set_dir, len(sups), len(set(files["utt2spk"].values())), " + ".join(set_parts))
        written[name] = set_dir
    return written
