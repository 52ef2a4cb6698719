"""The manifest of a generated demo corpus: the SHA-256 of every file and what made them.

Written next to the corpus as ``<corpus>.manifest.json`` (``downloads/demo/aesrc2020.manifest.json``),
so two machines' corpora can be compared file by file, and a difference traced to its cause: the
espeak-ng voice data and version, numpy/scipy (their SIMD kernels depend on the CPU), libsndfile.
``digest`` is what ``cd <corpus> && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum |
sha256sum`` prints.  ``pcm_digest`` hashes the decoded samples of the audio files instead of their
bytes: FLAC bytes also depend on the encoder's version (its vendor string is in every file), the
samples do not, so a ``digest`` that differs with an equal ``pcm_digest`` is no difference in audio.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any, Dict, Optional

from accent.data.kaldi_dir import write_text_atomic


def manifest_path(root: Path) -> Path:
    return root.parent / f"{root.name}.manifest.json"


def _tool_version(*cmd: str) -> Optional[str]:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr).strip() else None


def tool_versions() -> Dict[str, Optional[str]]:
    import numpy as np
    import scipy
    import soundfile as sf

    from accent.utils.provenance import numeric_environment

    env = numeric_environment()
    return {
        "espeak-ng": _tool_version("espeak-ng", "--version"),
        "sox": _tool_version("sox", "--version"),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "soundfile": sf.__version__,
        "libsndfile": sf.__libsndfile_version__,
        "python": env["python"],
        "cpu": env["cpu"],
        "numpy_cpu_dispatch": env["numpy_cpu_dispatch"],
    }


def file_hashes(root: Path) -> Dict[str, str]:
    """{``./relative/path``: sha256} of every file under ``root``, in C (byte) order of the path."""
    out = {}
    for path in sorted((p for p in root.rglob("*") if p.is_file()), key=lambda p: str(p.relative_to(root)).encode()):
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        out[f"./{path.relative_to(root)}"] = h.hexdigest()
    return out


def pcm_digest(root: Path, names) -> str:
    """SHA-256 over the decoded int16 samples (and rate) of the ``.wav``/``.flac`` files, in order."""
    import soundfile as sf

    h = hashlib.sha256()
    for name in names:
        if name.endswith((".wav", ".flac")):
            samples, rate = sf.read(root / name, dtype="int16", always_2d=True)
            h.update(f"{name} {rate} {samples.shape}\n".encode())
            h.update(samples.tobytes())
    return h.hexdigest()


def write_manifest(root: Path, settings: Dict[str, Any]) -> Path:
    files = file_hashes(root)
    digest = hashlib.sha256("".join(f"{h}  {name}\n" for name, h in files.items()).encode()).hexdigest()
    doc = {"corpus": root.name, "settings": settings, "digest": digest, "pcm_digest": pcm_digest(root, files),
           "tools": tool_versions(), "files": files}
    path = manifest_path(root)
    write_text_atomic(path, json.dumps(doc, indent=1) + "\n")
    return path
