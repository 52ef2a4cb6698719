"""Outputs of the analyses: text files written atomically (figures: accent.evaluation.plots.save_figure)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Union

from accent.data.kaldi_dir import write_text_atomic


def write_report(out_dir: Union[str, os.PathLike], files: Mapping[str, str]) -> Path:
    """Write ``{name: text}`` into ``out_dir`` (created), each file atomically."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        write_text_atomic(out_dir / name, text)
    return out_dir
