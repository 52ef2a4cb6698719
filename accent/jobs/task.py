"""Running one task where it is to run: header, ``bash -c <command>`` in its own process group, footer.

Used by the local backend for each of its tasks, and (through ``python -m accent.jobs exec``) by
the cluster backends on the node a task was sent to, so a task's log looks the same wherever it
ran and always ends with ``# Ended (...)``, including when the command crashed or was killed.

Each task gets a new session (hence its own process group): Ctrl-C in the terminal reaches only
the runner, which then decides what to stop, and stopping a task kills everything it started
(pipelines, background processes), not just its ``bash``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import Dict, Iterable, Optional

from accent.jobs.lock import inherited_lock_fds
from accent.jobs.logs import exit_code, signal_name, write_footer, write_header
from accent.jobs.signals import StopSignals
from accent.jobs.spec import Task

# Seconds between SIGTERM and SIGKILL when stopping tasks: enough for a Python job to flush its logs.
KILL_GRACE_SECONDS = 5.0


class TaskProcess:
    """A started task: the ``bash -c`` process, leader of the task's process group."""

    def __init__(self, task: Task, threads: int, proc: Optional[subprocess.Popen], started: float) -> None:
        self.task = task
        self.threads = threads
        self.proc = proc
        self.started = started
        self._returncode: Optional[int] = None if proc is not None else 127

    @classmethod
    def start(cls, task: Task, threads: int = 1) -> "TaskProcess":
        """Write the log header and start the command with its stdout and stderr in the log.

        Raises OSError when the log cannot be written (nothing is started then).  A command that
        cannot be started at all (no ``bash``) is reported in the log and ends with code 127.
        """
        write_header(task.log_path, task.command)
        started = time.monotonic()
        # the job's CPU allocation (--num-threads), not the machine's core count, sizes the thread
        # pools of torch, numpy and MKL: jobs side by side would otherwise oversubscribe the cores
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        with open(task.log_path, "ab") as log:
            try:
                proc: Optional[subprocess.Popen] = subprocess.Popen(
                    ["bash", "-c", task.command],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    close_fds=True,
                    # the locks of the directories the task writes (accent.jobs.lock): held by
                    # the task too, so they stay taken until the last writer has ended
                    pass_fds=inherited_lock_fds(),
                )
            except OSError as e:
                log.write(f"cannot start bash: {e}\n".encode())
                proc = None
        return cls(task, threads, proc, started)

    @property
    def pid(self) -> Optional[int]:
        """The task's process (group) id; None when it could not be started."""
        return self.proc.pid if self.proc is not None else None

    def poll(self) -> Optional[int]:
        """The returncode once the command has ended (-N: killed by signal N), else None."""
        if self._returncode is None and self.proc is not None:
            self._returncode = self.proc.poll()
        return self._returncode

    def has_exited(self) -> bool:
        """Whether the command has ended, without reaping it: while unreaped, its process group
        id cannot be taken by another process, so it stays safe to signal the group."""
        if self._returncode is not None or self.proc is None:
            return True
        if not hasattr(os, "waitid"):  # pragma: no cover - every Linux and macOS Python has it
            return self.poll() is not None
        try:
            info = os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        return info is not None

    def signal_group(self, signum: int) -> None:
        """Send a signal to everything the task started; a group already gone is fine."""
        if self.proc is None or self._returncode is not None:
            return
        try:
            os.killpg(self.proc.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    def wait(self) -> int:
        if self._returncode is None and self.proc is not None:
            self._returncode = self.proc.wait()
        assert self._returncode is not None
        return self._returncode

    def finish(self, note: Optional[str] = None) -> int:
        """Reap the command if needed and append the footer; returns the returncode."""
        returncode = self.wait()
        write_footer(self.task.log_path, returncode, time.monotonic() - self.started, self.threads, note)
        return returncode


def stop_tasks(tasks: Iterable[TaskProcess], reason: str, grace: float = KILL_GRACE_SECONDS) -> Dict[int, int]:
    """Stop running tasks: SIGTERM to their groups, SIGKILL after ``grace`` seconds to whatever
    is left (leaders that ignored it, or background processes that outlived their leader), then
    reap them and end each log with ``# Killed: <reason>`` and the footer.  Returns
    {task index: returncode}."""
    tasks = list(tasks)
    for t in tasks:
        t.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and not all(t.has_exited() for t in tasks):
        time.sleep(0.05)
    for t in tasks:
        t.signal_group(signal.SIGKILL)
    results = {}
    for t in tasks:
        try:
            results[t.task.index] = t.finish(note=f"Killed: {reason}")
        except OSError:  # the log became unwritable; the task is stopped all the same
            results[t.task.index] = t.wait()
    return results


def stop_reason(signum: int) -> str:
    return f"the job runner received {signal_name(signum)}"


def run_task(task: Task, threads: int = 1) -> int:
    """Run one task in the foreground and return its shell-style exit code.

    This is what runs on a cluster node.  SIGTERM (what schedulers send on cancel or timeout),
    SIGINT and SIGHUP stop the task's process group and still let the footer be written.
    """
    with StopSignals() as stop:
        running = TaskProcess.start(task, threads)
        while running.poll() is None:
            if stop.received is not None:
                stop_tasks([running], stop_reason(stop.received))
                return 128 + stop.received
            stop.wait(1.0)
        return exit_code(running.finish())

