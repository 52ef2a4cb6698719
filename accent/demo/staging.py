"""Build a corpus directory atomically: write into a sibling temp dir, then rename.

A finished corpus carries a stamp file (the generation settings as JSON),
written before the rename, so "directory exists with a matching stamp" means
"complete and up to date".  An interrupted run leaves only the temp dir, which
the next run deletes and redoes.  A directory without our stamp is never
deleted: it may be a real corpus.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Optional

logger = logging.getLogger(__name__)

STAMP_NAME = ".demo_corpus_done.json"


def read_stamp(root: Path) -> Optional[dict[str, Any]]:
    stamp = root / STAMP_NAME
    if not stamp.is_file():
        return None
    try:
        return json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RuntimeError(f"{stamp}: unreadable completion stamp ({exc}); delete {root} to regenerate") from exc


def is_complete(root: Path, settings: dict[str, Any]) -> bool:
    """True if ``root`` is a finished demo corpus made with ``settings``.

    Raises if ``root`` exists but is not ours, rather than overwriting it.
    """
    if not root.exists():
        return False
    stamp = read_stamp(root)
    if stamp is None:
        raise RuntimeError(
            f"{root} exists but has no {STAMP_NAME}: it is not a demo corpus made by this generator "
            "(maybe a real corpus). Remove it or choose another output directory.")
    if stamp == settings:
        return True
    logger.info("%s was made with different settings (%s); regenerating", root, stamp)
    return False


def temp_dir_for(root: Path) -> Path:
    """Fresh temp dir next to ``root`` (same filesystem, so the final rename is atomic)."""
    tmp = root.parent / f".{root.name}.partial"
    if tmp.exists():
        logger.info("removing leftover partial output %s", tmp)
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


def commit(tmp: Path, root: Path, settings: dict[str, Any]) -> None:
    """Stamp ``tmp`` and move it to ``root`` (replacing an older stamped corpus)."""
    (tmp / STAMP_NAME).write_text(json.dumps(settings, sort_keys=True) + "\n", encoding="utf-8")
    if root.exists():
        old = root.parent / f".{root.name}.old"
        if old.exists():
            shutil.rmtree(old)
        os.replace(root, old)
        os.replace(tmp, root)
        shutil.rmtree(old)
    else:
        os.replace(tmp, root)


def build_once(root: Path, settings: dict[str, Any], fill: Callable[[Path], str]) -> Path:
    """Make ``root`` unless a complete corpus with ``settings`` is there; returns ``root``.

    ``fill`` writes the corpus into the temp dir it is given and returns a summary for the log.
    """
    from accent.demo.manifest import manifest_path, write_manifest

    if is_complete(root, settings):
        if not manifest_path(root).is_file():  # made before manifests were written
            logger.info("%s: manifest written", write_manifest(root, settings))
        logger.info("%s is complete; nothing to do", root)
        return root
    start = time.monotonic()
    tmp = temp_dir_for(root)
    summary = fill(tmp)
    commit(tmp, root, settings)
    manifest = write_manifest(root, settings)
    logger.info("%s ready: %s in %.1f s; file hashes and tool versions in %s", root, summary,
                time.monotonic() - start, manifest)
    return root
