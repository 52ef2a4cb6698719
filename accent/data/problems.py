"""Bad corpus input: collected for every file, then reported together or left out and listed.

The default is to stop with one error listing every bad file, so that a user
fixes them all at once; ``--skip-bad`` leaves them out and lists them in
``<set>/bad_utts`` so that nothing is dropped silently.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List

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
