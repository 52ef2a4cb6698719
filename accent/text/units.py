"""Output-unit tables (``units.txt``) in the ESPnet/WeNet style.

``units.txt`` has one ``<symbol> <id>`` line per output class, ids ``0..N-1`` in
order (so, unlike the other Kaldi files, it is *not* sorted by key).

* ``data/lang_phn/units.txt``: ``<blank> 0`` then the 39 phones as ids 1..39 and
  nothing else: the CTC output has 40 classes (39 phones + blank), as in the
  hybrid CTC/attention accent paper. G2P always yields one of the 39 phones, so
  no ``<unk>`` is needed.
* ``data/lang_bpe_<N>/units.txt``: ``<blank> 0``, ``<unk> 1``, the other
  sentencepiece pieces in sentencepiece id order (unit id = sentencepiece id + 1),
  then ``<sos/eos>`` last, as ESPnet's token list and WeNet's ``units.txt`` do, so
  that an attention decoder can use the same table; a CTC-only model simply
  never sees ``<sos/eos>`` as a target.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Sequence

from accent.utils.files import DataDirError, write_bytes_if_changed, write_text_if_changed  # noqa: F401  (re-exported)

BLANK = "<blank>"
UNK = "<unk>"
SOS_EOS = "<sos/eos>"


def write_units(path: os.PathLike, symbols: Sequence[str]) -> bool:
    """Write ``symbols[i] i`` lines; returns whether the file changed.

    An unchanged file is not rewritten, so that reruns keep its timestamp and
    stages that compare timestamps do not redo work.
    """
    seen = set()
    for sym in symbols:
        if not sym or any(c.isspace() for c in sym):
            raise ValueError(f"{path}: unit {sym!r} is empty or contains whitespace")
        if sym in seen:
            raise ValueError(f"{path}: unit {sym!r} appears twice")
        seen.add(sym)
    return write_text_if_changed(path, "".join(f"{sym} {i}\n" for i, sym in enumerate(symbols)))


def read_units(path: os.PathLike) -> List[str]:
    """Read ``units.txt`` into the list of symbols indexed by id (checks ids are 0..N-1)."""
    path = Path(path)
    symbols: List[str] = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            fields = line.split()
            if len(fields) != 2 or not fields[1].isdigit():
                raise DataDirError(f"{path}:{lineno}: expected '<symbol> <id>', got {line.rstrip()!r}")
            if int(fields[1]) != len(symbols):
                raise DataDirError(f"{path}:{lineno}: id {fields[1]} out of order, expected {len(symbols)}")
            symbols.append(fields[0])
    if not symbols:
        raise DataDirError(f"{path}: empty units table")
    if len(set(symbols)) != len(symbols):
        raise DataDirError(f"{path}: duplicate symbols")
    return symbols


def symbol_to_id(path: os.PathLike) -> Dict[str, int]:
    """``units.txt`` as a ``symbol -> id`` mapping."""
    return {sym: i for i, sym in enumerate(read_units(path))}


