"""The local backend (``utils/run.pl``): tasks run on this machine, at most ``--max-jobs-run`` at once.

``--mem``, ``--gpu``, ``--time``, ``--num-nodes`` and ``--config`` are accepted so that a recipe
runs unchanged whichever backend ``cmd.sh`` picks, and ignored here (as Kaldi's run.pl does; it
stopped printing a note about it because users found it confusing).  ``--num-threads`` only shows in
the ``# Accounting`` line.
"""

from __future__ import annotations

import os
import sys
from collections import deque
from typing import Deque, Dict, Sequence

from accent.jobs.backend import Backend, Interrupted
from accent.jobs.signals import StopSignals
from accent.jobs.spec import JobSpec, Task
from accent.jobs.task import KILL_GRACE_SECONDS, TaskProcess, stop_reason, stop_tasks
from accent.jobs.watchdog import Watchdog

# Longest sleep between checks; a task's end or a stop signal wakes the runner sooner.
_WAIT_SECONDS = 1.0


def default_max_jobs() -> int:
    """The CPUs this process may use (respects taskset / cgroup CPU sets), as Kaldi's run.pl."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1  # pragma: no cover - macOS


class LocalBackend(Backend):
    prog = "run.pl"

    def run_tasks(self, spec: JobSpec, tasks: Sequence[Task], stop: StopSignals) -> Dict[int, int]:
        max_jobs = spec.options.max_jobs_run or default_max_jobs()
        threads = spec.options.num_threads
        pending: Deque[Task] = deque(tasks)
        running: Dict[int, TaskProcess] = {}
        results: Dict[int, int] = {}
        # stops the tasks if this process is killed (kill -9 runs no handler; see accent.jobs.watchdog)
        watchdog = Watchdog(KILL_GRACE_SECONDS)

        def stop_all(reason: str, grace: float = KILL_GRACE_SECONDS) -> None:
            results.update(stop_tasks(running.values(), reason, grace=grace))
            for proc in running.values():
                watchdog.ended(proc.pid)
            running.clear()

        try:
            while True:
                for index, proc in list(running.items()):
                    if proc.has_exited():
                        watchdog.ended(proc.pid)  # before reaping: until then its group id is not reused
                        results[index] = proc.finish()
                        del running[index]
                if stop.received is not None:
                    stopped = len(running)
                    stop_all(stop_reason(stop.received))
                    raise Interrupted(stop.received, stopped, len(pending))
                while pending and len(running) < max_jobs:
                    task = pending.popleft()
                    try:
                        proc = TaskProcess.start(task, threads)
                    except OSError as e:
                        print(f"{self.prog}: cannot write log {task.log_path}: {e}", file=sys.stderr, flush=True)
                        results[task.index] = 1
                        continue
                    running[task.index] = proc
                    watchdog.started(proc.pid, task.log_path)
                if not running and not pending:
                    return results
                stop.wait(_WAIT_SECONDS)
        except BaseException:
            # Never leave tasks behind: an unexpected error here must not orphan running jobs.
            if running:
                stop_all("the job runner failed", grace=1.0)
            raise
        finally:
            watchdog.close()
