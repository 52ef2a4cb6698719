"""Seeded subsamples of a set, as scoring's embedding sets and the plots draw them."""

from __future__ import annotations

from typing import List, Optional

import numpy as np


def subsample(n: int, max_utts: Optional[int], seed: int = 0) -> List[int]:
    """At most ``max_utts`` indices of ``range(n)``, drawn with ``seed``, in order."""
    if not max_utts or n <= max_utts:
        return list(range(n))
    return sorted(np.random.default_rng(seed).choice(n, size=max_utts, replace=False).tolist())
