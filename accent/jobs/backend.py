"""The part of ``run.pl`` / ``slurm.pl`` / ``queue.pl`` that does not depend on where tasks run.

:func:`main` parses the Kaldi command line, creates the log directories, hands the tasks to a
:class:`Backend`, and turns the results into the exit status and the failure message.  A backend
only implements :meth:`Backend.run_tasks`: "run these tasks, wait for all of them, return their
return codes", writing each task's log through :mod:`accent.jobs.task` (directly for the local
backend; on the node with ``python -m accent.jobs exec --spec FILE --index I`` for a cluster).
"""

from __future__ import annotations

import abc
import os
import shlex
import signal
import sys
from typing import Dict, List, Optional, Sequence, TextIO

from accent.jobs.logs import ensure_log_dir, signal_name, tail
from accent.jobs.signals import StopSignals
from accent.jobs.watchdog import die_with_parent
from accent.jobs.spec import HelpRequested, JobSpec, Task, UsageError, parse_command_line

# Lines of the first failed log shown on stderr, so the user sees why without opening it.
FAILED_LOG_TAIL_LINES = 20


class Interrupted(Exception):
    """Raised by :meth:`Backend.run_tasks` once it has stopped its tasks after a stop signal."""

    def __init__(self, signum: int, stopped: int, not_started: int) -> None:
        super().__init__(signum, stopped, not_started)
        self.signum = signum
        self.stopped = stopped
        self.not_started = not_started


class Backend(abc.ABC):
    """Where and how tasks run.  Subclasses set :attr:`prog` (the name in messages, as the
    wrapper script in ``utils/`` is called) and implement :meth:`run_tasks`."""

    prog: str = "run.pl"

    def check(self, spec: JobSpec) -> None:
        """Reject options this backend cannot honour (raise :class:`UsageError`); read its
        ``--config``.  Called before any log is created.  The default accepts everything."""

    @abc.abstractmethod
    def run_tasks(self, spec: JobSpec, tasks: Sequence[Task], stop: StopSignals) -> Dict[int, int]:
        """Run every task and wait until all have ended.

        Returns ``{task.index: returncode}`` (0 success; a task missing from the dict counts as
        failed).  Each task's log must get the header and footer of :mod:`accent.jobs.logs`.
        Between waits, check ``stop.received``: when it is set, stop (kill, cancel) the tasks that
        run, start no more, and raise :class:`Interrupted`.  Use ``stop.wait(seconds)`` to sleep:
        it returns early on a stop signal (and on a local child's exit).
        """


def node_command(spec_path: str, index: str, status_file: Optional[str] = None) -> str:
    """The shell command a cluster backend puts in its batch script to run one task there.

    It runs task ``index`` of a spec saved with :meth:`JobSpec.to_json` through
    ``accent.jobs exec`` (log header, command, footer even when cancelled; exit code in
    ``status_file`` if given), with this same Python interpreter and this same ``accent`` package
    (its directory first on ``PYTHONPATH``: a venv shared by several checkouts must not pick
    another one's), the nodes sharing the file system as with Kaldi's queue.pl.  ``index`` is
    inserted unquoted so it may be a shell expression such as ``$SLURM_ARRAY_TASK_ID``; the paths
    are quoted.
    """
    import accent

    root = os.path.dirname(os.path.dirname(os.path.abspath(accent.__file__)))
    parts = [sys.executable, "-m", "accent.jobs", "exec", "--spec", os.path.abspath(spec_path)]
    command = (f'env PYTHONPATH={shlex.quote(root)}"${{PYTHONPATH:+:$PYTHONPATH}}" '
               + " ".join(shlex.quote(p) for p in parts) + f" --index {index}")
    if status_file is not None:
        command += f" --status-file {shlex.quote(os.path.abspath(status_file))}"
    return command


def report_failures(
    prog: str, spec: JobSpec, tasks: Sequence[Task], results: Dict[int, int], out: TextIO
) -> int:
    """Print what failed (count, first failed log and its last lines); return the exit status."""
    failed: List[Task] = [t for t in tasks if results.get(t.index, 1) != 0]
    if not failed:
        return 0
    first = failed[0]
    out.write(f"{prog}: {len(failed)} / {len(tasks)} failed, log is in {first.log_path}\n")
    if spec.job_name is None and "JOB" in spec.log_template:
        out.write(f"{prog}: probably you forgot to put JOB=1:$nj in your script.\n")
    lines = tail(first.log_path, FAILED_LOG_TAIL_LINES)
    out.write(f"{prog}: last {len(lines)} lines of {first.log_path}:\n")
    for line in lines:
        out.write(f"  {line}\n")
    out.flush()
    return 1


def main(backend: Backend, argv: Sequence[str]) -> int:
    """The whole runner: exit status 0 if every task succeeded, 1 if any failed or the command
    line is wrong, 128+N when stopped by signal N."""
    prog = backend.prog
    try:
        spec = parse_command_line(argv, prog)
        backend.check(spec)
    except HelpRequested as e:
        print(e, flush=True)
        return 0
    except UsageError as e:
        print(f"{prog}: {e}", file=sys.stderr, flush=True)
        return 1
    tasks = spec.tasks()
    try:
        for t in tasks:
            ensure_log_dir(t.log_path)
    except OSError as e:
        print(f"{prog}: {e}", file=sys.stderr, flush=True)
        return 1
    with StopSignals() as stop:
        # the runner goes when the script that started it goes (kill -9 of run.sh): its tasks
        # are then stopped (or its cluster job cancelled) as on a hangup
        die_with_parent(signal.SIGHUP)
        try:
            results = backend.run_tasks(spec, tasks, stop)
        except Interrupted as e:
            print(
                f"{prog}: stopped by {signal_name(e.signum)}: killed {e.stopped} running task(s), "
                f"{e.not_started} not started; logs in {spec.log_template}",
                file=sys.stderr,
                flush=True,
            )
            return 128 + e.signum
    return report_failures(prog, spec, tasks, results, sys.stderr)
