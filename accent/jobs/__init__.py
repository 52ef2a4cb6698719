"""Job runners with Kaldi's ``run.pl`` interface: ``utils/run.pl`` (local), ``utils/slurm.pl``, ``utils/queue.pl``.

A recipe calls ``$train_cmd [--mem 4G] [--gpu 1] JOB=1:$nj exp/x/log/job.JOB.log command args``
and ``cmd.sh`` decides where that runs.  The modules:

- :mod:`accent.jobs.spec`: the command line -> :class:`JobSpec` -> one :class:`Task` per index.
- :mod:`accent.jobs.logs`: the log header/footer that every backend writes.
- :mod:`accent.jobs.task`: runs one task (own process group, log, footer even on crash/kill).
- :mod:`accent.jobs.backend`: :class:`Backend` ("run these tasks and wait") and the shared ``main``.
- :mod:`accent.jobs.local`: the local backend; :mod:`accent.jobs.queue` (with :mod:`.queue_config`):
  the cluster backends' shared part, :mod:`accent.jobs.slurm` and :mod:`accent.jobs.sge` the two;
  :mod:`accent.jobs.cli`: ``python -m accent.jobs``.
- :mod:`accent.jobs.lock`: one writer per directory; :mod:`accent.jobs.watchdog`: a job's children
  die with it; :mod:`accent.jobs.launch`: the data-parallel launch command.
"""

from accent.jobs.backend import Backend, Interrupted, main
from accent.jobs.spec import JobOptions, JobSpec, Task, UsageError, parse_command_line, quote_command

__all__ = [
    "Backend",
    "Interrupted",
    "JobOptions",
    "JobSpec",
    "Task",
    "UsageError",
    "main",
    "parse_command_line",
    "quote_command",
]
