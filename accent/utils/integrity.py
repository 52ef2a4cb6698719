"""Integrity of model files: a damaged file is refused, naming it, instead of giving wrong answers.

* ``torch.save`` checkpoints and TorchScript archives are zip files whose every member carries a
  CRC-32 (PyTorch writes them); ``torch.load``/``torch.jit.load`` do not check them, so a flipped
  byte in a weight tensor loads and runs.  :func:`check_zip_archive` reads every member and checks
  its CRC (``zipfile.testzip``) before the file is loaded.
* ONNX files are protobuf, which has no checksum (and ONNX Runtime runs a model whose weight bytes
  changed).  The exporter stores the SHA-256 of the serialised graph (weights, constants and ops)
  and of the accent metadata in the metadata entry ``accent_sha256``; :func:`check_onnx` recomputes
  it at load.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
import zlib
from typing import Any, Dict, Iterator, Optional, Tuple, Union

ONNX_DIGEST_KEY = "accent_sha256"

PathLike = Union[str, os.PathLike]


class DamagedFileError(ValueError):
    """A model file whose bytes are not those that were written (truncated, overwritten, ...)."""


def check_zip_archive(path: PathLike, what: str = "checkpoint") -> None:
    """Raise :class:`DamagedFileError` naming ``path`` unless it is a complete zip archive whose
    members all match their CRC-32 (``torch.save`` and ``torch.jit.save`` output)."""
    if os.path.getsize(path) == 0:
        raise DamagedFileError(f"{path}: empty {what} file (0 bytes; was its writer killed?)")
    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
    except (zipfile.BadZipFile, zlib.error, EOFError, UnicodeDecodeError, ValueError, OSError) as e:
        # a truncated file has no central directory at its end; a damaged one may not parse, and a
        # damaged deflated member (TorchScript compresses its code) fails to decompress
        raise DamagedFileError(f"{path}: damaged or truncated {what} file (not a complete torch archive: {e})"
                               ) from None
    if bad is not None:
        raise DamagedFileError(f"{path}: damaged {what} file (member {bad} fails its CRC-32 check)")


def onnx_digest(model: Any, metadata_text: str) -> str:
    """SHA-256 of an ONNX ``ModelProto``'s graph (deterministic serialisation) and of the metadata."""
    return _digest(model.graph.SerializeToString(deterministic=True), metadata_text)


def _digest(graph: Union[bytes, memoryview], metadata_text: str) -> str:
    h = hashlib.sha256()
    h.update(graph)
    h.update(b"\0")
    h.update(metadata_text.encode("utf-8"))
    return h.hexdigest()


def _varint(data: memoryview, i: int) -> Tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7


def _fields(data: memoryview) -> Iterator[Tuple[int, int, Union[int, memoryview]]]:
    """(field number, wire type, value or bytes) of one protobuf message, in file order."""
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
            yield number, wire, value
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4
        elif wire == 2:
            size, i = _varint(data, i)
            if i + size > len(data):
                raise ValueError(f"field {number} runs {i + size - len(data)} bytes past the end")
            yield number, wire, data[i:i + size]
            i += size
        else:
            raise ValueError(f"wire type {wire} of field {number}")


ONNX_GRAPH_FIELD, ONNX_METADATA_FIELD = 7, 14  # ModelProto.graph, ModelProto.metadata_props (onnx.proto)


def check_onnx(path: PathLike, metadata_key: str, data: Optional[bytes] = None) -> Dict[str, str]:
    """Raise :class:`DamagedFileError` naming ``path`` unless its graph and metadata hash to the
    digest stored at export; returns its metadata entries.  ``data``: the file's bytes, when the
    caller has read them (so that what is checked is what it loads).

    Reads the protobuf wire format itself, without the onnx package (accent-id with ONNX Runtime
    imports neither onnx nor torch): the graph field's bytes are what :func:`onnx_digest`
    serialised (ONNX messages have no maps, so their serialisation is deterministic anyway)."""
    if data is None:
        with open(path, "rb") as f:
            data = f.read()
    data = memoryview(data)
    graph, props = None, {}
    try:
        for number, wire, value in _fields(data):
            if wire != 2:
                continue
            if number == ONNX_GRAPH_FIELD:
                graph = value
            elif number == ONNX_METADATA_FIELD:
                entry = {n: bytes(v).decode("utf-8") for n, w, v in _fields(value) if w == 2}
                props[entry.get(1, "")] = entry.get(2, "")
    except (IndexError, ValueError) as e:  # UnicodeDecodeError is a ValueError
        raise DamagedFileError(f"{path}: damaged or truncated ONNX file ({e})") from None
    if graph is None:
        raise DamagedFileError(f"{path}: damaged or truncated ONNX file (it holds no graph)")
    stored = props.get(ONNX_DIGEST_KEY)
    if stored is None:
        raise DamagedFileError(f"{path}: no {ONNX_DIGEST_KEY} checksum (exported by an older accent.bin.export, or "
                               "not by it at all); export it again")
    if _digest(graph, props.get(metadata_key, "")) != stored:
        raise DamagedFileError(f"{path}: damaged ONNX file (its weights or graph do not match the checksum "
                               "written at export)")
    return props
