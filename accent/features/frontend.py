"""Which FBank options a model takes, and whether a set's features were made with them.

Stage 2 records its options in ``<data>/conf/fbank.yaml``; training copies the training set's into
the checkpoint (``frontend``), so scoring can refuse features made otherwise and inference can
compute the same features from audio.  Training, scoring and export all check through here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple, Type

from .fbank import FbankConfig

NO_FRONTEND_NOTE = ("the checkpoint does not record its FBank options (made before they were stored); "
                    "assuming the recipe defaults FbankConfig() = egs/aesrc/conf/fbank.yaml")


def recorded_frontend(data_dir: Path) -> Optional[Dict[str, Any]]:
    """The FBank options stage 2 made ``data_dir``'s features with (None: not recorded)."""
    path = Path(data_dir) / "conf" / "fbank.yaml"
    return FbankConfig.from_yaml(path).to_dict() if path.is_file() else None


def checkpoint_frontend(ckpt: Mapping[str, Any]) -> Tuple[FbankConfig, Optional[str]]:
    """The FBank options a model was trained on, and a note when they had to be assumed."""
    if ckpt.get("frontend"):
        return FbankConfig.from_dict(ckpt["frontend"]), None
    return FbankConfig(), NO_FRONTEND_NOTE


def check_same_frontend(expected: Optional[Mapping[str, Any]], given: Optional[Mapping[str, Any]], what: str,
                        error: Type[Exception] = ValueError) -> None:
    """Raise ``error`` saying ``what`` differs when both option sets are known and differ."""
    if expected and given and dict(expected) != dict(given):
        raise error(f"{what}: {dict(given)} vs {dict(expected)}")
