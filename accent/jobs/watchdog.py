"""Tasks die with the runner that started them, however it died.

Each task runs in a session of its own (so that Ctrl-C reaches only the runner, which then
stops the tasks: :mod:`accent.jobs.task`).  The other side of that: ``kill -9`` of the runner,
or of the recipe's whole process group, cannot run any handler, and would leave the tasks
running, racing the next run for the same files.  Two mechanisms close that gap:

* :func:`die_with_parent`: the runner asks the kernel for SIGHUP when its parent (``run.sh``,
  a script) dies (``PR_SET_PDEATHSIG``), and then stops its tasks as on any SIGHUP.  Under
  ``nohup`` SIGHUP is ignored, so a ``nohup`` run outlives its terminal as it should.
* :class:`Watchdog`: a process forked by the runner into a session of its own, told through a
  pipe which process groups the runner's tasks are.  Only the runner holds the pipe's write end,
  so the watchdog reads end-of-file exactly when the runner has gone: if tasks are still listed
  then (the runner did not end them: it was killed), it stops their process groups, SIGTERM
  then SIGKILL, and notes it in their logs.  A runner that ends normally has listed every task
  as ended, so the watchdog then just exits.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time
from typing import Dict, Optional

from accent.jobs.logs import now_string

_PR_SET_PDEATHSIG = 1


def die_with_parent(signum: int = signal.SIGHUP) -> None:
    """Have the kernel send ``signum`` to this process when its parent exits (Linux; a no-op
    elsewhere).  If the parent is already gone, the signal is sent now."""
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0) != 0:
            return
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), signum)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - a group of another user: not ours any more
        return False
    return True


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _watch(read_fd: int, runner_pid: int, grace: float) -> None:
    """The watchdog's body: follow the runner's messages until end-of-file, then stop what is left."""
    tasks: Dict[int, str] = {}
    buffer = b""
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        while True:
            chunk = pipe.read(4096)
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                kind, _, rest = line.decode("utf-8", errors="replace").partition(" ")
                pgid, _, log_path = rest.partition(" ")
                if kind == "+" and pgid.isdigit():
                    tasks[int(pgid)] = log_path
                elif kind == "-" and pgid.isdigit():
                    tasks.pop(int(pgid), None)
    if not tasks:
        return
    for pgid in tasks:
        _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_group_alive(g) for g in tasks):
        time.sleep(0.05)
    for pgid in tasks:
        _signal_group(pgid, signal.SIGKILL)
    for log_path in tasks.values():
        try:
            with open(log_path, "a", encoding="utf-8") as f:
                f.write(f"# Killed: the job runner (pid {runner_pid}) died; task stopped at {now_string()}\n")
        except OSError:
            pass
    try:
        print(f"run.pl: the job runner (pid {runner_pid}) died; stopped {len(tasks)} task(s)", file=sys.stderr,
              flush=True)
    except OSError:
        pass


class Watchdog:
    """The runner's side: fork the watchdog, then report each task's start and end."""

    def __init__(self, grace: float) -> None:
        read_fd, self._write_fd = os.pipe()
        runner = os.getpid()
        pid = os.fork()
        if pid == 0:  # the watchdog
            code = 0
            try:
                os.close(self._write_fd)
                os.setsid()  # out of the runner's process group: a kill of that group spares it
                signal.set_wakeup_fd(-1)
                for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
                    signal.signal(signum, signal.SIG_DFL)
                _watch(read_fd, runner, grace)
            except BaseException:  # pragma: no cover - never let the fork return into the runner
                code = 1
            finally:
                os._exit(code)
        os.close(read_fd)
        self._pid: Optional[int] = pid

    def _send(self, message: str) -> None:
        if self._pid is not None:
            os.write(self._write_fd, message.encode("utf-8"))

    def started(self, pgid: Optional[int], log_path: str) -> None:
        if pgid is not None:
            self._send(f"+ {pgid} {os.path.abspath(log_path).replace(chr(10), ' ')}\n")

    def ended(self, pgid: Optional[int]) -> None:
        if pgid is not None:
            self._send(f"- {pgid}\n")

    def close(self) -> None:
        """The runner ends normally: every task has been reported as ended, the watchdog exits."""
        if self._pid is None:
            return
        os.close(self._write_fd)
        try:
            os.waitpid(self._pid, 0)
        except ChildProcessError:  # pragma: no cover
            pass
        self._pid = None
