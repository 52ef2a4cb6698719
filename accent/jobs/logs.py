"""The task log format, identical for every backend so that logs read (and grep) the same.

A log is what Kaldi's run.pl writes::

    # <command line>
    # Started at Sat Nov 22 03:51:00 UTC 2025
    #
    <stdout and stderr of the command>
    # Accounting: time=12 threads=1
    # Ended (code 0) at Sat Nov 22 03:51:12 UTC 2025, elapsed time 12 seconds

Tools and people look for ``# Ended (code 0)`` to tell a finished task from a failed or
still-running one, so the footer is written whatever happened to the command, by whoever
watched it end (the local runner, or the task wrapper on a cluster node).
"""

from __future__ import annotations

import os
import signal
import time
from collections import deque
from typing import List, Optional


def now_string() -> str:
    """The date as the ``date`` command prints it, as in Kaldi's logs."""
    return time.strftime("%a %b %e %H:%M:%S %Z %Y")  # %e: "Dec  1", as date prints it


def ensure_log_dir(log_path: str) -> None:
    """Create the directory of a log file; an error names the log so the user knows which."""
    directory = os.path.dirname(log_path)
    if directory:
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as e:
            raise OSError(f"cannot create the directory of log file {log_path}: {e.strerror}") from e


def write_header(log_path: str, command: str) -> None:
    """Start (truncate) the log: the command line and the start date."""
    ensure_log_dir(log_path)
    # A multi-line command stays one comment block.
    shown = command.replace("\n", "\n# ")
    with open(log_path, "w", encoding="utf-8", errors="replace") as f:
        f.write(f"# {shown}\n# Started at {now_string()}\n#\n")


def exit_code(returncode: int) -> int:
    """A shell-style exit code for a ``subprocess`` returncode: -N (killed by signal N) -> 128+N."""
    return 128 - returncode if returncode < 0 else returncode


def status_string(returncode: int) -> str:
    """``code 3``, or ``code 137; signal 9`` for a task killed by a signal (Kaldi adds the signal)."""
    if returncode < 0:
        return f"code {exit_code(returncode)}; signal {-returncode}"
    return f"code {returncode}"


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def write_footer(
    log_path: str, returncode: int, elapsed: float, threads: int = 1, note: Optional[str] = None
) -> None:
    """Append the accounting and end lines; ``note`` (e.g. why the task was killed) comes first."""
    seconds = int(round(elapsed))
    lines = []
    if note:
        lines.append(f"# {note}\n")
    lines.append(f"# Accounting: time={seconds} threads={threads}\n")
    lines.append(f"# Ended ({status_string(returncode)}) at {now_string()}, elapsed time {seconds} seconds\n")
    ensure_log_dir(log_path)
    with open(log_path, "a", encoding="utf-8", errors="replace") as f:
        f.write("".join(lines))


def tail(path: str, num_lines: int = 20) -> List[str]:
    """The last lines of a log (without newlines), or a line saying why it could not be read."""
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as f:
            return [line.rstrip("\n") for line in deque(f, maxlen=num_lines)]
    except OSError as e:
        return [f"(cannot read {path}: {e.strerror})"]
