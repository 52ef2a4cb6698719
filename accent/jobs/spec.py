"""What a job runner is asked to do, parsed from Kaldi's ``run.pl`` command line.

Every backend (``run.pl`` local, ``slurm.pl``, ``queue.pl``) takes the same
arguments, so that a recipe switches backends by changing ``$train_cmd`` only::

    run.pl [--mem 4G] [--gpu 1] [--num-threads 2] [--time 4:00:00] [--num-nodes 1]
           [--max-jobs-run 8 | -tc 8] [--config conf/x.conf]
           [JOB=1:N] <log-file> <command> [args...]

This module turns that into a :class:`JobSpec` (options, JOB range, log
template, command) and then into one :class:`Task` per index, with the job
variable substituted the way Kaldi does it.  ``argparse`` is not used: Kaldi's
positional ``JOB=1:N`` may sit among the options, and everything after the log
file belongs to the command, dashes included.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import List, Optional, Sequence, Tuple

USAGE = (
    "Usage: {prog} [--mem 4G] [--gpu 1] [--num-threads N] [--time H:MM:SS] [--num-nodes N] "
    "[--max-jobs-run N | -tc N] [--config FILE] [JOB=1:N] <log-file> <command> [args...]\n"
    "  Runs <command> once per index of the JOB range (once without it), replacing the\n"
    "  job variable (any name, usually JOB) by the index in <log-file> and <command>.\n"
    "  stdout and stderr of each task go to its log file; a failure of any task fails {prog}."
)

# Options that every backend accepts, each followed by one value (``--mem=4G`` is also accepted).
# ``-tc`` is GridEngine's spelling of ``--max-jobs-run``, accepted by Kaldi's run.pl as well.
# ``--num-nodes`` (not in Kaldi) asks for a job on several nodes, for data-parallel training.
VALUE_OPTIONS = ("--mem", "--gpu", "--num-threads", "--time", "--num-nodes", "--max-jobs-run", "--config")
OPTION_ALIASES = {"-tc": "--max-jobs-run"}
# Other options are taken as Kaldi's run.pl/queue.pl take them, so that a Kaldi user's cmd.sh
# works: ``--NAME VALUE`` is a scheduler option for the config file to map (slurm.pl: e.g.
# ``option account=* --account=$0``), ``-X VALUE`` a GridEngine option (``-l``, ``-q``, ``-sync``),
# ``-pe`` takes two values and ``-V`` none.  run.pl ignores them all, as Kaldi's does.
_OPTION_VALUES = {"-V": 0, "-pe": 2}

# Kaldi's patterns for the JOB range: NAME=START:END, or NAME=INDEX for one task.
_RANGE_RE = re.compile(r"^([A-Za-z_]\w*)=(\d+):(\d+)$")
_SINGLE_RE = re.compile(r"^([A-Za-z_]\w*)=(\d+)$")
# What a broken range looks like (JOB=1: when $nj was empty, JOB=0:4, JOB=1:four ...).  Kaldi
# only warns and then takes it for the log file name; an error is clearer.
_BAD_RANGE_RE = re.compile(r"^[A-Za-z_]\w*=([^/]*:[^/]*|[-\d]*)$")
# A plain word reaches the job's shell as it is: nothing in it is shell syntax.
_PLAIN_WORD_RE = re.compile(r"^[A-Za-z0-9_@%+=:,./-]+$")
# Shell operators written as arguments of their own, as Kaldi's scripts do (``prog ark:- \| other``,
# ``... ">" out``): passed through so the job's shell runs the pipeline or the redirection.
SHELL_OPERATORS = frozenset({"|", "|&", "||", "&&", ";", "&", ">", ">>", "<", "2>", "2>>", "2>&1", ">&2", "&>"})
# ... and a redirection glued to a plain-word target (``2>/dev/null``, ``>out.txt``).
_REDIRECTION_RE = re.compile(r"^(\d?>>?|\d?>&|<|&>)[A-Za-z0-9_@%+=:,./-]+$")


class UsageError(Exception):
    """The command line is wrong; the message says how, and the runner exits 1 without running anything."""


class HelpRequested(UsageError):
    """``--help`` / ``-h`` among the options: print the usage (the message) and exit 0."""


@dataclass
class JobOptions:
    """Resource requests.  The local backend only uses ``max_jobs_run`` and ``num_threads`` (for the
    accounting line); the cluster backends translate the rest for their scheduler."""

    mem: Optional[str] = None
    gpu: int = 0
    num_threads: int = 1
    time: Optional[str] = None
    num_nodes: int = 1  # one task of a job on this many nodes (a data-parallel training)
    max_jobs_run: Optional[int] = None  # None: the backend's default
    config: Optional[str] = None
    # Every ``--NAME VALUE`` option as given, in order, e.g. [("--mem", "4G"), ("--account", "x")],
    # so a backend can report or map them (unknown names included).
    given: List[Tuple[str, str]] = field(default_factory=list)
    # GridEngine-style options (``-l mem_free=4G``, ``-pe smp 4``, ``-V``), word by word.
    native: List[List[str]] = field(default_factory=list)


@dataclass(frozen=True)
class Task:
    """One index of the job: its log file and the shell command line to run with ``bash -c``."""

    index: int
    log_path: str
    command: str


@dataclass
class JobSpec:
    """A parsed command line.  ``job_name`` is None without a JOB range (a single task, index 1)."""

    options: JobOptions
    job_name: Optional[str]
    start: int
    end: int
    log_template: str
    command_args: List[str]

    @property
    def num_tasks(self) -> int:
        return self.end - self.start + 1

    @property
    def command_template(self) -> str:
        """The command line with the job variable not yet substituted."""
        return quote_command(self.command_args)

    def substitute(self, text: str, index: int) -> str:
        """Kaldi's rule: every occurrence of the variable name, anywhere in the string
        (``s/$jobname/$jobid/g``), becomes the index; nothing happens without a JOB range."""
        if self.job_name is None:
            return text
        return text.replace(self.job_name, str(index))

    def task(self, index: int) -> Task:
        if not self.start <= index <= self.end:
            raise ValueError(f"task index {index} outside {self.start}:{self.end}")
        return Task(
            index=index,
            log_path=self.substitute(self.log_template, index),
            command=self.substitute(self.command_template, index),
        )

    def tasks(self) -> List[Task]:
        return [self.task(i) for i in range(self.start, self.end + 1)]

    def to_json(self) -> str:
        """For cluster backends: the node rebuilds the spec and runs one task of it with
        ``python -m accent.jobs exec --spec FILE --index I``, so no command is re-quoted for a
        batch script."""
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> "JobSpec":
        data = json.loads(text)
        options = JobOptions(**{**data["options"], "given": [tuple(g) for g in data["options"]["given"]],
                                 "native": [list(n) for n in data["options"].get("native", [])]})
        return cls(**{**data, "options": options})


def quote_command(args: Sequence[str]) -> str:
    """Join the command arguments into one ``bash -c`` string.

    Every argument is quoted unless it is a plain word (letters, digits, ``_@%+=:,./-``), a
    shell operator on its own (``|``, ``>``, ``2>&1``, ``&&`` ...) or a redirection to a plain
    word (``2>/dev/null``), so a value never turns into
    shell syntax: ``/data/AESRC(2020)`` stays a path and ``$(...)``, backticks, ``$VAR``, globs
    and ``;`` inside an argument are not run or expanded.  Kaldi passed every argument without
    whitespace through untouched, which let the job's shell parse values a second time.  The
    operators are what Kaldi recipes escape on purpose (``prog ark:- \\| other-prog``), so
    they keep working.  Quoting uses single quotes, embedded single quotes escaped.

    A single argument is taken as a whole command line and passed through as is, so the common
    ``run.pl log "prog a | other-prog b"`` runs the pipeline (Kaldi would have quoted it into a
    program name with spaces in it, which nobody means).
    """
    if len(args) == 1:
        return args[0]
    return " ".join(arg if _PLAIN_WORD_RE.match(arg) or arg in SHELL_OPERATORS or _REDIRECTION_RE.match(arg)
                    else "'" + arg.replace("'", "'\\''") + "'" for arg in args)


def _positive_int(option: str, value: str, allow_zero: bool = False) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0 or (number == 0 and not allow_zero):
        kind = "a non-negative" if allow_zero else "a positive"
        raise UsageError(f"invalid value '{value}' for {option}: expected {kind} integer")
    return number


def _set_option(options: JobOptions, option: str, value: str) -> None:
    options.given.append((option, value))
    if option == "--mem":
        options.mem = value
    elif option == "--gpu":
        options.gpu = _positive_int(option, value, allow_zero=True)
    elif option == "--num-threads":
        options.num_threads = _positive_int(option, value)
    elif option == "--time":
        options.time = value
    elif option == "--num-nodes":
        options.num_nodes = _positive_int(option, value)
    elif option == "--max-jobs-run":
        options.max_jobs_run = _positive_int(option, value)
    elif option == "--config":
        options.config = value
    # any other --NAME: only recorded in options.given, for the backend to map or ignore


def parse_command_line(argv: Sequence[str], prog: str = "run.pl") -> JobSpec:
    """Parse ``[options] [JOB=1:N] [options] <log-file> <command...>``.

    As in Kaldi, options and the JOB range may come in either order before the log file, and
    parsing stops at the first argument that is neither: that one is the log file and the rest is
    the command (so the command may have options of its own).  Options other than the ones
    every backend knows are parsed as Kaldi does (see ``_OPTION_VALUES``) and left to the backend:
    run.pl ignores them, the cluster backends map them through their config file and refuse one
    it does not describe (naming the file).
    """
    args = list(argv)
    options = JobOptions()
    job: Optional[Tuple[str, str, int, int]] = None
    pos = 0
    while pos < len(args):
        arg = args[pos]
        if arg in ("--help", "-h"):
            raise HelpRequested(USAGE.format(prog=prog))
        if arg.startswith("--") and len(arg) > 2:
            name, eq, inline_value = arg.partition("=")
            if eq:
                value = inline_value
                pos += 1
            else:
                if pos + 1 >= len(args):
                    raise UsageError(f"option {arg} needs a value\n" + USAGE.format(prog=prog))
                value = args[pos + 1]
                pos += 2
            _set_option(options, name, value)
            continue
        if arg.startswith("-") and len(arg) > 1:
            if arg in OPTION_ALIASES:
                if pos + 1 >= len(args):
                    raise UsageError(f"option {arg} needs a value\n" + USAGE.format(prog=prog))
                _set_option(options, OPTION_ALIASES[arg], args[pos + 1])
                pos += 2
                continue
            n = _OPTION_VALUES.get(arg, 1)
            if pos + n >= len(args):
                raise UsageError(f"option {arg} needs {n} value(s)\n" + USAGE.format(prog=prog))
            options.native.append(args[pos:pos + n + 1])
            pos += n + 1
            continue
        m = _RANGE_RE.match(arg) or _SINGLE_RE.match(arg)
        if m:
            if job is not None:
                raise UsageError(f"two job ranges given: {job[0]} and {arg}")
            start = int(m.group(2))
            end = int(m.group(3)) if m.re is _RANGE_RE else start
            if start < 1:
                raise UsageError(f"invalid job range {arg}: the start must be 1 or more (as GridEngine requires)")
            if start > end:
                raise UsageError(f"invalid job range {arg}: the start is after the end")
            job = (arg, m.group(1), start, end)
            pos += 1
            continue
        if _BAD_RANGE_RE.match(arg):
            raise UsageError(
                f"invalid job range '{arg}': expected NAME=START:END with integers, e.g. JOB=1:4 "
                "(is the number of jobs variable empty?)"
            )
        break
    rest = args[pos:]
    if len(rest) < 2:
        what = "a log file and a command" if not rest else "a command after the log file"
        raise UsageError(f"expected {what}\n" + USAGE.format(prog=prog))
    log_template, command_args = rest[0], rest[1:]
    if job is None:
        job_name, start, end = None, 1, 1
    else:
        _, job_name, start, end = job
        if end > start and job_name not in log_template:
            raise UsageError(
                f"you are trying to run a parallel job but you are putting the output into just "
                f"one log file ({log_template}): put {job_name} in its name"
            )
    return JobSpec(
        options=options,
        job_name=job_name,
        start=start,
        end=end,
        log_template=log_template,
        command_args=command_args,
    )

