"""The score tables of a decode directory: ``predictions.tsv`` (per utterance) and
``speaker_scores.tsv`` (per speaker).

One format for both: tab-separated, a header of key columns then ``logp_<label>`` columns, one row
per key, natural-log scores with 8 significant digits (sums over a speaker's utterances stay exact
where rounded probabilities would be 0).  numpy only: ``accent-id`` reads them without torch.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import List, Sequence, Tuple

import numpy as np

from accent.utils.files import DataDirError, write_text_atomic

LOGP = "logp_"  # prefix of the score columns


def write_score_table(path: Path, key_columns: Sequence[str], keys: Sequence[Sequence[str]],
                      labels: Sequence[str], scores: np.ndarray) -> None:
    """``keys[i]`` then ``scores[i]`` per line, under a ``key_columns + logp_<label>`` header."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter="\t", lineterminator="\n")
    w.writerow([*key_columns, *(LOGP + lab for lab in labels)])
    for k, s in zip(keys, scores):
        w.writerow([*k, *(f"{x:.8g}" for x in s)])
    write_text_atomic(Path(path), buf.getvalue())


def read_score_table(path: Path, key_columns: Sequence[str], what: str
                     ) -> Tuple[List[List[str]], List[str], np.ndarray]:
    """(key fields per row, the score columns' names, (rows, columns) scores) of a table whose header
    starts with ``key_columns``; ``what`` names the file kind in errors."""
    path = Path(path)
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    nk = len(key_columns)
    if not rows or rows[0][:nk] != list(key_columns):
        raise DataDirError(f"{path}: not {what} (its header must start with {', '.join(key_columns)})")
    header, body = rows[0], rows[1:]
    for n, r in enumerate(body, start=2):
        if len(r) != len(header):
            raise DataDirError(f"{path}: line {n} has {len(r)} fields, the header {len(header)}")
    try:
        values = np.array([[float(x) for x in r[nk:]] for r in body], dtype=np.float64)
    except ValueError as e:
        raise DataDirError(f"{path}: a score that is not a number ({e})") from None
    return [r[:nk] for r in body], header[nk:], values.reshape(len(body), len(header) - nk)
