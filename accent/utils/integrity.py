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
from typing import Any, Dict, Union

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
    h = hashlib.sha256()
    h.update(model.graph.SerializeToString(deterministic=True))
    h.update(b"\0")
    h.update(metadata_text.encode("utf-8"))
    return h.hexdigest()


def check_onnx(path: PathLike, metadata_key: str) -> Dict[str, str]:
    """Raise :class:`DamagedFileError` naming ``path`` unless its graph and metadata hash to the
    digest stored at export; returns its metadata entries."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, ValueError, OSError) as e:
        raise DamagedFileError(f"{path}: damaged or truncated ONNX file ({e})") from None
    props = {p.key: p.value for p in model.metadata_props}
    stored = props.get(ONNX_DIGEST_KEY)
    if stored is None:
        raise DamagedFileError(f"{path}: no {ONNX_DIGEST_KEY} checksum (exported by an older accent.bin.export, or "
                               "not by it at all); export it again")
    if onnx_digest(model, props.get(metadata_key, "")) != stored:
        raise DamagedFileError(f"{path}: damaged ONNX file (its weights or graph do not match the checksum "
                               "written at export)")
    return props
