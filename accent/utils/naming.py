"""The recipe's experiment names: one rule for run.sh's exp/<name> and the Python tools."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union


def experiment_name(config_path: Union[str, os.PathLike], conf_root: Union[str, os.PathLike] = "conf") -> str:
    """``conf/hybrid/mtl_l0.2.yaml`` -> ``hybrid_mtl_l0.2`` (the recipe's exp/<name>)."""
    p = Path(config_path)
    try:
        rel = p.with_suffix("").relative_to(conf_root)
    except ValueError:
        rel = Path(p.stem)
    return "_".join(rel.parts)
