"""Text files as the recipe reads and writes them: Kaldi's one ``key value`` per line tables, and
atomic writes (temp file, fsync, rename), so that a reader never sees half a file and a rerun that
writes the same bytes changes nothing.  The data, text and feature code all use these.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Sequence


class DataDirError(ValueError):
    """A data directory or one of its files is malformed; the message names the file."""


def text_lines(path: os.PathLike, error: type = None) -> List[str]:
    """The lines of a UTF-8 text file (a leading BOM dropped, no line ends).  A line that is not
    UTF-8 raises ``error`` (default :class:`DataDirError`) naming the file, the line and the byte."""
    path = Path(path)
    lines = path.read_bytes().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out = []
    for lineno, raw in enumerate(lines, 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise (error or DataDirError)(
                f"{path}:{lineno}: not UTF-8 text (byte 0x{raw[e.start]:02x} at column {e.start + 1}); "
                "convert the file to UTF-8 (e.g. iconv -f latin1 -t utf-8)") from None
        out.append(line.rstrip("\r"))
    if out and out[0].startswith("\ufeff"):
        out[0] = out[0][1:]
    return out


def read_mapping(path: os.PathLike, allow_empty_value: bool = False) -> Dict[str, str]:
    """Read ``key value...`` lines into an ordered dict (value = rest of the line)."""
    path = Path(path)
    out: Dict[str, str] = {}
    for lineno, line in enumerate(text_lines(path), 1):
        if not line.strip():
            raise DataDirError(f"{path}:{lineno}: empty line")
        key, _, value = line.partition(" ")
        value = value.strip()
        if not value and not allow_empty_value:
            raise DataDirError(f"{path}:{lineno}: key {key!r} has no value")
        if key in out:
            raise DataDirError(f"{path}:{lineno}: duplicate key {key!r}")
        out[key] = value
    return out


def read_list(path: os.PathLike) -> List[str]:
    """Read one item per line, ignoring blank lines and ``#`` comments."""
    items = []
    for line in text_lines(path):
        line = line.split("#", 1)[0].strip()
        if line:
            items.append(line)
    return items


def write_text_atomic(path: os.PathLike, content: str) -> None:
    """Write a file so that a reader never sees it half-written (temp file + rename)."""
    write_bytes_atomic(path, content.encode("utf-8"))


def write_bytes_atomic(path: os.PathLike, data: bytes) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_mapping(path: os.PathLike, mapping: Mapping[str, object], sort: bool = True) -> None:
    """Write ``key value`` lines, sorted by key in C-locale (byte) order."""
    keys: Iterable[str] = sorted(mapping, key=c_order) if sort else mapping
    write_text_atomic(path, "".join(f"{k} {mapping[k]}\n" for k in keys))


def write_list(path: os.PathLike, items: Sequence[str]) -> None:
    write_text_atomic(path, "".join(f"{x}\n" for x in items))


def c_order(key: str) -> bytes:
    return key.encode("utf-8")


def write_text_if_changed(path: os.PathLike, content: str) -> bool:
    """Atomically write ``content`` unless the file already holds exactly it.

    Used by the lang-dir preparation so that rerunning a stage is a true no-op
    (same bytes, same timestamps). Returns whether the file was written.
    """
    return write_bytes_if_changed(path, content.encode("utf-8"))


def write_bytes_if_changed(path: os.PathLike, data: bytes) -> bool:
    path = Path(path)
    if path.is_file() and path.read_bytes() == data:
        return False
    write_bytes_atomic(path, data)
    return True
