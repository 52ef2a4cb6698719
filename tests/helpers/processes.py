"""Watching processes from the outside: alive or not, by working directory, polling."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import List


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def processes_in(directory: Path) -> List[int]:
    """PIDs of the live processes whose working directory is ``directory``."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if Path(os.readlink(proc / "cwd")) == directory and process_alive(int(proc.name)):
                    pids.append(int(proc.name))
            except OSError:
                pass
    return pids


def wait_for(predicate, timeout: float) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()
