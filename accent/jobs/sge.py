"""The GridEngine backend (``utils/queue.pl``): all tasks of a job as one ``qsub -t`` array job.

    queue.pl --config conf/queue.conf [--mem 4G] [--gpu 1] [--num-threads N] [--time T]
             [--max-jobs-run N | -tc N] JOB=1:N exp/x/log/foo.JOB.log command args...

submits ``qsub <config's command and mapped options> -terse -N foo -t 1:N
-o exp/x/q/foo-$TASK_ID.out exp/x/q/foo.sh``, where ``foo.sh`` runs task ``$SGE_TASK_ID`` of the
spec saved in ``exp/x/q/foo.json``.  Every option, ``--max-jobs-run`` included (``-tc``), is
mapped by the config file, in Kaldi's queue.pl format (its default config is built in, plus
``option time=* -l h_rt=$0``; see :mod:`accent.jobs.queue_config`).  queue.pl then waits for
the tasks' status files, asking ``qstat -j`` whether the job still exists, and ``qdel``\\ s it on
Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import re
import subprocess
from typing import List, Optional

from accent.jobs.queue import JobState, QueueBackend, QueueFiles
from accent.jobs.queue_config import DEFAULT_SGE_CONFIG
from accent.jobs.spec import JobSpec


def sge_job_name(name: str) -> str:
    """GridEngine rejects names that start with a digit or hold ``/ : @ \\ * ?``."""
    name = re.sub(r"[/:@\\*?\s]", "_", name)
    return name if name and not name[0].isdigit() else f"j{name}"


class SgeBackend(QueueBackend):
    prog = "queue.pl"
    scheduler = "GridEngine"
    default_config_path = "conf/queue.conf"
    builtin_config = DEFAULT_SGE_CONFIG
    task_id_var = "SGE_TASK_ID"
    special_options = ()  # --max-jobs-run goes through the config (-tc), as in Kaldi's queue.pl

    def submit_command(self, spec: JobSpec, files: QueueFiles) -> List[str]:
        assert self.config is not None, "check() reads the config first"
        return [
            *self.config.command,
            *self.options,
            "-terse",
            "-N", sge_job_name(files.name),
            "-t", f"{spec.start}:{spec.end}",
            "-o", f"{files.qdir}/{files.name}-$TASK_ID.out",  # qsub expands $TASK_ID itself
            files.script,
        ]

    def query(self, job_id: str) -> Optional[JobState]:
        try:
            r = subprocess.run(
                ["qstat", "-j", job_id], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        if r.returncode == 0:
            return JobState({})  # still there; qstat -j does not say which task does what
        if "do not exist" in (r.stdout + r.stderr):
            return JobState(None)
        return None

    def cancel_command(self, job_id: str) -> List[str]:
        return ["qdel", job_id]
