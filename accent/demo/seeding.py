"""Deterministic seeds derived from names, independent of process order and PYTHONHASHSEED.

Every random draw of the demo corpora (speaker voice, channel, sentence,
transfer-rule firing, noise samples) uses an RNG seeded from the corpus seed
and the *identity* of what is drawn, e.g. ``(seed, "utt", "RU", "G00042", 7)``,
so that a file's bytes do not depend on which worker made it or in which order.
"""

from __future__ import annotations

import hashlib
import random

import numpy as np


def derive_seed(*parts: object) -> int:
    """A 64-bit seed from the ``repr`` of ``parts`` (stable across runs and machines)."""
    digest = hashlib.blake2b(repr(parts).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def py_rng(*parts: object) -> random.Random:
    return random.Random(derive_seed(*parts))


def np_rng(*parts: object) -> np.random.Generator:
    return np.random.default_rng(derive_seed(*parts))
