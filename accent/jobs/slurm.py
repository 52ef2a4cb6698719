"""The Slurm backend (``utils/slurm.pl``): all tasks of a job as one ``sbatch`` array job.

    slurm.pl --config conf/slurm.conf [--mem 4G] [--gpu 1] [--num-threads N] [--time T]
             [--num-nodes M] [--max-jobs-run N] JOB=1:N exp/x/log/foo.JOB.log command args...

submits ``sbatch <config's command and mapped options> --job-name foo --array=1-N%M
--output exp/x/q/foo-%a.out exp/x/q/foo.sh``, where ``foo.sh`` runs task
``$SLURM_ARRAY_TASK_ID`` of the spec saved in ``exp/x/q/foo.json``, in the directory slurm.pl
was called from (a single task is submitted as a plain job, which Slurm starts sooner).  The resource options are mapped by the config file (see
:mod:`accent.jobs.queue_config`; Kaldi's slurm.pl format and default); ``--max-jobs-run`` is the
array's ``%M`` throttle, as in Kaldi.  slurm.pl waits until every task has written its status
file (its exit code) or Slurm no longer lists the job; Ctrl-C or SIGTERM cancels the job
(``scancel``).  A submission Slurm refuses (no such partition, a GPU on a cluster without one)
fails at once with sbatch's message.

A job with several tasks per node or several nodes (``--ntasks-per-node``, ``--nodes`` from the
config: a data-parallel training) still runs its command once, in the batch script on the first
node; the command starts the other processes itself with ``srun`` (``accent.bin.launch``).

The nodes must share the file system (the recipe directory, the venv), as with Kaldi.
"""

from __future__ import annotations

import re
import subprocess
from typing import Dict, List, Optional

from accent.jobs.queue import JobState, QueueBackend, QueueFiles
from accent.jobs.queue_config import DEFAULT_SLURM_CONFIG
from accent.jobs.spec import JobSpec

# squeue's compact state codes (%t) -> what the waiting loop needs to know.
_RUNNING_STATES = {"R", "CG", "CF", "S", "ST", "SO", "RS", "SI", "RD", "SE"}
_PENDING_STATES = {"PD", "RQ", "RF", "RH"}


class SlurmBackend(QueueBackend):
    prog = "slurm.pl"
    scheduler = "Slurm"
    default_config_path = "conf/slurm.conf"
    builtin_config = DEFAULT_SLURM_CONFIG
    task_id_var = "SLURM_ARRAY_TASK_ID"
    special_options = ("max_jobs_run",)  # the array's %N, as in Kaldi's slurm.pl
    native_options = False

    def __init__(self) -> None:
        super().__init__()
        self._plain_job_index = 1  # the task a job that is not an array runs

    def submit_command(self, spec: JobSpec, files: QueueFiles) -> List[str]:
        assert self.config is not None, "check() reads the config first"
        self._plain_job_index = spec.start
        if spec.num_tasks == 1:
            # Not an array: Slurm starts a plain job at once, an array at its next scheduling
            # pass (a second or two later).  The script then runs task spec.start.
            array = []
            output = f"--output={files.out(spec.start)}"
        else:
            throttle = "" if spec.options.max_jobs_run is None else f"%{spec.options.max_jobs_run}"
            array = [f"--array={spec.start}-{spec.end}{throttle}"]
            output = f"--output={files.qdir}/{files.name}-%a.out"
        return [
            *self.config.command,
            *self.options,
            "--parsable",
            f"--job-name={files.name}",
            *array,
            output,
            files.script,
        ]

    def query(self, job_id: str) -> Optional[JobState]:
        try:
            r = subprocess.run(
                ["squeue", "--noheader", "--array", f"--jobs={job_id}", "--format=%K %t"],
                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        if r.returncode != 0:
            # Slurm forgets a job MinJobAge seconds after it ended: squeue then says so.
            if "Invalid job id" in r.stderr:
                return JobState(None)
            return None  # controller busy or unreachable: ask again later
        return parse_squeue(r.stdout, self._plain_job_index)

    def cancel_command(self, job_id: str) -> List[str]:
        return ["scancel", job_id]


def parse_squeue(stdout: str, plain_job_index: int = 1) -> JobState:
    """``squeue --noheader --array --format='%K %t'`` -> {task index: running/pending/other}.

    squeue lists pending, running and completing jobs only: no line means the job has ended (a
    line it cannot parse still means the job is there).  A job that is not an array shows ``N/A``
    as its index: that is task ``plain_job_index``.
    """
    tasks: Dict[int, str] = {}
    listed = False
    for line in stdout.splitlines():
        listed = listed or bool(line.strip())
        parts = line.split()
        if len(parts) != 2:
            continue
        index, state = parts
        kind = "running" if state in _RUNNING_STATES else "pending" if state in _PENDING_STATES else "other"
        if index == "N/A":
            tasks[plain_job_index] = kind
            continue
        # a pending array's remaining indices may be shown as a range, "2-4%1" or "[2-4%1]"
        m = re.match(r"^\[?(\d+)(?:-(\d+))?", index)
        if not m:
            continue
        first = int(m.group(1))
        last = int(m.group(2)) if m.group(2) else first
        for i in range(first, last + 1):
            tasks[i] = kind
    return JobState(tasks if listed else None)
