"""The cluster backends' shared part: submitting one array job and waiting for it.

:class:`QueueBackend` writes the spec (``JobSpec.to_json``) and a batch script next to the logs,
in Kaldi's ``q/`` directory (``exp/x/log/foo.JOB.log`` -> ``exp/x/q/foo.sh``), submits one
array job for all the tasks, then waits for a status file per task, written on the node by
``python -m accent.jobs exec --status-file`` once the task's log has its footer.  The exit code
of each task is read from there, not from the scheduler.  When the scheduler no longer lists the
job and some status files are still missing (cancelled while pending, killed, node failure),
those tasks fail with a note in their log.  A stop signal cancels the job.
"""

from __future__ import annotations

import abc
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from accent.jobs.backend import Backend, Interrupted, node_command
from accent.jobs.logs import write_footer, write_header
from accent.jobs.queue_config import DEFAULT_SGE_CONFIG, QueueConfig, cli_options, load_config, map_options
from accent.jobs.signals import StopSignals
from accent.jobs.spec import JobSpec, Task, UsageError


# ---------------------------------------------------------------------------------------------
# Where the files of a submission go (Kaldi's q/ directory)


@dataclass(frozen=True)
class QueueFiles:
    """``exp/x/log/foo.JOB.log`` -> directory ``exp/x/q``, name ``foo``: ``q/foo.sh`` (batch
    script), ``q/foo.json`` (spec), ``q/foo-<index>.out`` (the scheduler's output of each task),
    ``q/foo.<index>.status`` (each task's exit code).  All paths absolute."""

    qdir: str
    name: str

    @classmethod
    def for_spec(cls, spec: JobSpec, cwd: str) -> "QueueFiles":
        log = spec.log_template
        directory = os.path.dirname(log) or "."
        qdir = os.path.join(directory, "q")
        qdir = re.sub(r"/(log|LOG)/*q$", "/q", qdir)  # Kaldi: .../log/q -> .../q
        if qdir in ("log/q", "LOG/q"):
            qdir = "q"
        base = os.path.basename(log)
        if spec.job_name is not None:
            base = re.sub(r"\.?" + re.escape(spec.job_name), "", base, count=1)
            base = base.replace(spec.job_name, "")
        base = re.sub(r"\.[a-zA-Z]{1,5}$", "", base)
        base = re.sub(r"[^\w.+-]", "_", base).strip(".") or "job"
        return cls(os.path.normpath(os.path.join(cwd, qdir)), base)

    @property
    def script(self) -> str:
        return os.path.join(self.qdir, f"{self.name}.sh")

    @property
    def spec(self) -> str:
        return os.path.join(self.qdir, f"{self.name}.json")

    def status(self, index: int) -> str:
        return os.path.join(self.qdir, f"{self.name}.{index}.status")

    def out(self, index: int) -> str:
        return os.path.join(self.qdir, f"{self.name}-{index}.out")


def batch_script(spec_path: str, files: QueueFiles, cwd: str, task_id_var: str, default_index: int,
                 header: Sequence[str] = ()) -> str:
    """The script each array task runs: in the submit directory, with the recipe's ``path.sh``
    sourced (as Kaldi's queue.pl does: the environment of a node is not the submitter's), it runs
    the task whose index is in ``$task_id_var`` (``default_index`` when the job is not an array),
    writing its exit code to its status file."""
    status = shlex.quote(os.path.join(files.qdir, f"{files.name}.")) + '"$task".status'
    run = node_command(spec_path, '"$task"')
    lines = [
        "#!/bin/bash",
        *header,
        f"cd {shlex.quote(cwd)} || exit 1",
        "[ -f ./path.sh ] && . ./path.sh",
        f'task=${{{task_id_var}:-{default_index}}}',
        f"exec {run} --status-file {status}",
    ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Submitting and waiting


class SubmitError(Exception):
    """The scheduler refused the job (the message is its own), or its command could not be run."""


# Seconds between checks of the status files (cheap: a stat per task still running) ...
_STATUS_POLL_SECONDS = 0.5
# ... and between asking the scheduler whether the job still exists (grows up to the maximum).
_QUEUE_POLL_FIRST_SECONDS = 1.0
_QUEUE_POLL_MAX_SECONDS = 10.0
# Once the scheduler no longer lists the job, how long missing status files are waited for (a
# shared file system may show a file written on a node a little later).
_STATUS_GRACE_SECONDS = 5.0
# After cancelling, how long to wait for the scheduler to stop listing the job.
_CANCEL_WAIT_SECONDS = 20.0


@dataclass
class JobState:
    """What the scheduler says about a submitted job.  ``tasks`` is None when it no longer lists
    the job (it has ended), else {task index: "running" | "pending" | "other"}, empty when the
    scheduler does not tell tasks apart."""

    tasks: Optional[Dict[int, str]]


class QueueBackend(Backend, abc.ABC):
    """A backend that submits one array job and waits for its status files."""

    prog = "queue.pl"
    scheduler = "the scheduler"
    default_config_path = "conf/queue.conf"
    builtin_config = DEFAULT_SGE_CONFIG
    task_id_var = "TASK_ID"
    # options the backend handles itself instead of through the config
    special_options: Tuple[str, ...] = ()
    # whether GridEngine-style options (``-l ...``, ``-pe smp 4``) go to the submit command as
    # they are (Kaldi's queue.pl); other schedulers refuse them
    native_options = True

    def __init__(self) -> None:
        self.config: Optional[QueueConfig] = None
        self.options: List[str] = []

    def check(self, spec: JobSpec) -> None:
        self.config = load_config(spec.options.config, self.default_config_path, self.builtin_config)
        self.options = map_options(self.config, cli_options(spec.options), skip=self.special_options)
        if spec.options.native and not self.native_options:
            shown = ", ".join(" ".join(n) for n in spec.options.native)
            raise UsageError(f"GridEngine options ({shown}) mean nothing to {self.scheduler}: give "
                             f"{self.scheduler}'s own options in the 'command' line of the config file "
                             f"{self.config.source}, or as --NAME VALUE with an 'option NAME=*' line")
        if self.native_options:
            self.options += [word for option in spec.options.native for word in option]

    # -- what each scheduler says differently --------------------------------------------------

    @abc.abstractmethod
    def submit_command(self, spec: JobSpec, files: QueueFiles) -> List[str]:
        """The submit command line (argv) for the whole array."""

    @abc.abstractmethod
    def query(self, job_id: str) -> Optional[JobState]:
        """Ask the scheduler about the job; None when it cannot be asked right now."""

    @abc.abstractmethod
    def cancel_command(self, job_id: str) -> List[str]:
        """The command that cancels the whole array."""

    # -- the shared part --------------------------------------------------------------------

    def prepare(self, spec: JobSpec, tasks: Sequence[Task], cwd: str, files: QueueFiles, argv: Sequence[str]) -> None:
        """Write the spec and the batch script (with the submit command in a comment, as Kaldi
        keeps it in q/); remove the status and output files an earlier run left for these tasks."""
        os.makedirs(files.qdir, exist_ok=True)
        for t in tasks:
            for stale in (files.status(t.index), files.out(t.index)):
                try:
                    os.remove(stale)
                except FileNotFoundError:
                    pass
        with open(files.spec, "w", encoding="utf-8") as f:
            f.write(spec.to_json())
        header = [f"# {self.prog}: {' '.join(shlex.quote(a) for a in argv)}"]
        with open(files.script, "w", encoding="utf-8") as f:
            f.write(batch_script(files.spec, files, cwd, self.task_id_var, spec.start, header))
        os.chmod(files.script, 0o755)

    def submit(self, argv: List[str]) -> str:
        try:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        except FileNotFoundError:
            raise SubmitError(
                f"cannot run {argv[0]}: command not found (is this a {self.scheduler} submit host, with "
                f"its commands on PATH? otherwise use cmd_backend=local / run.pl)"
            ) from None
        except OSError as e:
            raise SubmitError(f"cannot run {argv[0]}: {e.strerror}") from None
        if r.returncode != 0:
            message = (r.stderr.strip() or r.stdout.strip() or "(no message)")
            raise SubmitError(f"{argv[0]} refused the job (exit status {r.returncode}): {message}")
        if r.stderr.strip():  # warnings of an accepted submission
            sys.stderr.write(r.stderr if r.stderr.endswith("\n") else r.stderr + "\n")
        # both print the id first: qsub -terse "123" (an array: "123.1-4:1"), sbatch --parsable "123;cluster"
        m = re.match(r"^\s*(\d+)", r.stdout)
        if not m:
            raise SubmitError(f"cannot find the job id in the output of {argv[0]}: '{r.stdout.strip()}'")
        return m.group(1)

    def _fail_all(self, tasks: Sequence[Task], message: str, command: Sequence[str]) -> Dict[int, int]:
        print(f"{self.prog}: {message}", file=sys.stderr)
        print(f"{self.prog}: the command was: {' '.join(shlex.quote(a) for a in command)}", file=sys.stderr, flush=True)
        for t in tasks:
            try:
                write_header(t.log_path, t.command)
                write_footer(t.log_path, 1, 0.0, note=f"Not submitted: {message}")
            except OSError:
                pass
        return {t.index: 1 for t in tasks}

    def run_tasks(self, spec: JobSpec, tasks: Sequence[Task], stop: StopSignals) -> Dict[int, int]:
        cwd = os.getcwd()
        files = QueueFiles.for_spec(spec, cwd)
        argv = self.submit_command(spec, files)
        try:
            self.prepare(spec, tasks, cwd, files, argv)
        except OSError as e:
            return self._fail_all(tasks, f"cannot write the batch script in {files.qdir}: {e}", argv)
        try:
            job_id = self.submit(argv)
        except SubmitError as e:
            if stop.received is not None:  # Ctrl-C reached the submit command too
                raise Interrupted(stop.received, 0, len(tasks)) from None
            return self._fail_all(tasks, str(e), argv)
        return self.wait(job_id, spec, tasks, files, stop)

    def wait(self, job_id: str, spec: JobSpec, tasks: Sequence[Task], files: QueueFiles,
             stop: StopSignals) -> Dict[int, int]:
        results: Dict[int, int] = {}
        queue_poll = _QUEUE_POLL_FIRST_SECONDS
        next_query = time.monotonic() + queue_poll
        gone_since: Optional[float] = None
        query_failures = 0
        while True:
            for t in tasks:
                if t.index not in results:
                    code = read_status(files.status(t.index))
                    if code is not None:
                        results[t.index] = code
            if len(results) == len(tasks):
                return results
            if stop.received is not None:
                self.cancel(job_id, stop.received, tasks, results)
            now = time.monotonic()
            if gone_since is not None and now - gone_since >= _STATUS_GRACE_SECONDS:
                missing = [t for t in tasks if t.index not in results]
                self.report_missing(job_id, missing, files)
                return results
            if gone_since is None and now >= next_query:
                state = self.query(job_id)
                if state is None:
                    query_failures += 1
                    if query_failures in (10, 100):
                        print(f"{self.prog}: cannot ask {self.scheduler} about job {job_id}; still waiting",
                              file=sys.stderr, flush=True)
                elif state.tasks is None:
                    gone_since = time.monotonic()
                    continue  # read the status files again at once
                else:
                    query_failures = 0
                queue_poll = min(queue_poll * 1.5, _QUEUE_POLL_MAX_SECONDS)
                next_query = time.monotonic() + queue_poll
            stop.wait(_STATUS_POLL_SECONDS)

    def cancel(self, job_id: str, signum: int, tasks: Sequence[Task], results: Dict[int, int]) -> None:
        """Cancel the job, wait (a while) until the scheduler stops listing it, raise Interrupted."""
        state = self.query(job_id)
        unfinished = [t.index for t in tasks if t.index not in results]
        if state is not None and state.tasks:
            running = sum(1 for i in unfinished if state.tasks.get(i) == "running")
            pending = sum(1 for i in unfinished if state.tasks.get(i) == "pending")
        else:
            running, pending = len(unfinished), 0
        argv = self.cancel_command(job_id)
        try:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True)
            if r.returncode != 0:
                print(f"{self.prog}: {' '.join(argv)} failed: {r.stderr.strip()}", file=sys.stderr, flush=True)
        except OSError as e:
            print(f"{self.prog}: cannot run {argv[0]}: {e.strerror}; job {job_id} may still run",
                  file=sys.stderr, flush=True)
        deadline = time.monotonic() + _CANCEL_WAIT_SECONDS
        while time.monotonic() < deadline:
            state = self.query(job_id)
            if state is not None and state.tasks is None:
                break
            time.sleep(0.5)  # not stop.wait: the stop signal has been received already
        else:
            print(f"{self.prog}: job {job_id} is still listed by {self.scheduler} after cancelling it",
                  file=sys.stderr, flush=True)
        raise Interrupted(signum, running, pending)

    def report_missing(self, job_id: str, missing: Sequence[Task], files: QueueFiles) -> None:
        """Tasks the scheduler ended without a status file: say so on stderr and in their logs."""
        for n, t in enumerate(missing):
            note = (
                f"{self.prog}: task {t.index} of job {job_id} ended without an exit status: it was "
                f"cancelled (maybe before it started), killed by {self.scheduler}, or its node failed; "
                f"{self.scheduler}'s output for it is in {os.path.relpath(files.out(t.index))}"
            )
            if n < 5:
                print(note, file=sys.stderr, flush=True)
            elif n == 5:
                print(f"{self.prog}: ... and {len(missing) - 5} more such tasks", file=sys.stderr, flush=True)
            try:
                if not os.path.exists(t.log_path):
                    write_header(t.log_path, t.command)
                write_footer(t.log_path, 1, 0.0, note=note)
            except OSError:
                pass


def read_status(path: str) -> Optional[int]:
    """The exit code in a status file, None while it is absent (or not yet complete)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read().strip()
    except OSError:
        return None
    try:
        return int(text)
    except ValueError:
        return None
