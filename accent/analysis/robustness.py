"""Table 3 of the hybrid paper: dev accent accuracy of MTL and hybrid models trained on degraded
phone transcripts (rows theta 0, 0.5, 1 and random; see :mod:`accent.analysis.degrade`)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Dict, Optional, Sequence, Union

from .degrade import RANDOM, parse_variant

VARIANTS = ("0", "0.5", "1", RANDOM)
METHODS = ("mtl", "hybrid")


def variant_name(variant: str) -> str:
    """The data/exp directory suffix of a variant: theta0.5, random."""
    return RANDOM if parse_variant(variant) == RANDOM else f"theta{variant}"


def experiment_dir(exp_root: Union[str, os.PathLike], variant: str, method: str) -> Path:
    return Path(exp_root) / f"robust_{variant_name(variant)}_{method}"


def collect(exp_root: Union[str, os.PathLike], variants: Sequence[str] = VARIANTS,
            methods: Sequence[str] = METHODS) -> Dict[str, Dict[str, Optional[float]]]:
    """variant -> method -> best dev accuracy (None when the experiment has no results.json)."""
    out: Dict[str, Dict[str, Optional[float]]] = {}
    for v in variants:
        out[v] = {}
        for m in methods:
            path = experiment_dir(exp_root, v, m) / "results.json"
            value = json.loads(path.read_text()).get("best_value") if path.is_file() else None
            out[v][m] = None if value is None else float(value)
    return out


def robustness_table(results: Dict[str, Dict[str, Optional[float]]]) -> str:
    """Markdown: one row per variant, one column per method, dev accuracy in %."""
    methods = list(next(iter(results.values()), {}))
    lines = ["| transcripts | " + " | ".join(methods) + " |", "|---|" + "---:|" * len(methods)]
    for v, row in results.items():
        label = "random" if v == RANDOM else f"θ = {v}"
        cells = ["-" if row[m] is None else f"{100 * row[m]:.2f}" for m in methods]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
