"""Bad corpus input: collected for every file, then reported together or left out and listed.

The default is to stop with one error listing every bad file, so that a user
fixes them all at once; ``--skip-bad`` leaves them out and lists them in
``<set>/bad_utts`` so that nothing is dropped silently.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

from accent.data.audio import AudioError, AudioInfo, conversion_command, format_problem, probe_audio
from accent.data.kaldi_dir import write_mapping

log = logging.getLogger(__name__)


class CorpusError(ValueError):
    """Bad corpus input; the message names every bad file with its reason."""


@dataclass(frozen=True)
class Problem:
    """One bad input: the utterance it removes, the file and the reason."""

    utt_id: str
    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def check_audio(
    files: Mapping[str, Path], sample_rate: int, convert_audio: bool, num_jobs: int
) -> Tuple[Dict[str, AudioInfo], List[Problem]]:
    """Read every audio header (in threads: it is I/O): the usable files' info, and the bad ones.

    A file that is not mono at ``sample_rate`` is bad unless ``convert_audio``.
    """

    def check(item: Tuple[str, Path]) -> Tuple[str, Optional[AudioInfo], Optional[str]]:
        utt, path = item
        try:
            info = probe_audio(path)
        except AudioError as e:
            return utt, None, str(e).split(": ", 1)[1]
        why = format_problem(info, sample_rate)
        if why and not convert_audio:
            return utt, None, why + " (use --convert-audio to resample/down-mix with sox)"
        return utt, info, None

    infos: Dict[str, AudioInfo] = {}
    problems: List[Problem] = []
    with ThreadPoolExecutor(max(1, num_jobs) * 4) as ex:
        for utt, info, why in ex.map(check, files.items()):
            if why:
                problems.append(Problem(utt, Path(files[utt]), why))
            else:
                infos[utt] = info
    return infos, problems


def wav_scp_entries(infos: Mapping[str, AudioInfo], sample_rate: int) -> Tuple[Dict[str, str], Dict[str, str]]:
    """``wav.scp`` of checked files (:func:`check_audio`), and the converted ones with the reason.

    Paths are absolute, so the data directory works from any directory; a file that is not mono
    at ``sample_rate`` (let through by ``convert_audio``) becomes a sox pipe that converts it.
    """
    wav_scp: Dict[str, str] = {}
    converted: Dict[str, str] = {}
    for utt, info in infos.items():
        path = str(Path(info.path).absolute())
        why = format_problem(info, sample_rate)
        if why:
            wav_scp[utt] = conversion_command(path, sample_rate)
            converted[utt] = why
        else:
            wav_scp[utt] = path
    return wav_scp, converted


def write_converted_audio(set_dir: Path, converted: Mapping[str, str]) -> None:
    """List the utterances read through a sox conversion in ``set_dir/converted_audio``; remove a
    stale list when there are none."""
    path = Path(set_dir) / "converted_audio"
    if converted:
        write_mapping(path, converted)
        log.warning("%s: %d files resampled/down-mixed by sox, listed in %s", set_dir, len(converted), path)
    elif path.exists():
        path.unlink()


def raise_unless_skipping(problems: List[Problem], where: str, skip_bad: bool) -> None:
    if problems and not skip_bad:
        listing = "\n  ".join(str(p) for p in problems)
        raise CorpusError(
            f"{len(problems)} bad files in {where} (fix them, or rerun with --skip-bad to leave them out):\n  {listing}"
        )


def write_bad_utts(set_dir: Path, problems: Iterable[Problem]) -> None:
    """List left-out utterances in ``set_dir/bad_utts``; remove a stale list when there are none."""
    rows = {p.utt_id: f"{p.path} {p.reason}" for p in problems}
    path = Path(set_dir) / "bad_utts"
    if rows:
        write_mapping(path, rows)
        log.warning("%s: %d utterances left out, listed in %s", set_dir, len(rows), path)
    elif path.exists():
        path.unlink()
