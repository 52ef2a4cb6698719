"""Damaged copies of files, as a bad disk sector or a cut download leaves them."""

from __future__ import annotations

from pathlib import Path


def damage(src: Path, dst: Path, where: float = 0.3, size: int = 64) -> Path:
    """A copy of ``src`` with ``size`` bytes flipped at ``where`` of its length (a bad disk sector)."""
    data = bytearray(src.read_bytes())
    i = int(len(data) * where)
    for k in range(i, i + size):
        data[k] ^= 0x55
    dst.write_bytes(bytes(data))
    return dst
