"""The command line that starts N x M data-parallel training processes (srun, torchrun or as is).

See :mod:`accent.bin.launch` for the rules; this is its library part, for other recipes' launchers.
"""

from __future__ import annotations

import hashlib
import shlex
import sys
from typing import List, Mapping, Optional, Sequence


class LaunchError(Exception):
    """The request cannot be met in this environment; the message says what to change."""


def _slurm_tasks(env: Mapping[str, str]) -> Optional[int]:
    """Tasks of the Slurm job this runs in (None outside one, or inside an srun step: a step's
    tasks are already the processes)."""
    if "SLURM_JOB_ID" not in env or "SLURM_STEP_ID" in env:
        return None
    try:
        return int(env.get("SLURM_NTASKS") or env.get("SLURM_NPROCS") or 1)
    except ValueError:
        return None


def launch_command(ngpu: int, num_nodes: int, command: Sequence[str], env: Mapping[str, str],
                   rdzv_endpoint: Optional[str] = None, rdzv_id: Optional[str] = None,
                   python: str = sys.executable) -> List[str]:
    """The command line that starts ``command`` as ``ngpu * num_nodes`` processes here."""
    if not command:
        raise LaunchError("no command given (put it after --)")
    world = ngpu * num_nodes
    if world == 1:
        return list(command)
    tasks = _slurm_tasks(env)
    request = f"--ngpu {ngpu} --num-nodes {num_nodes}"
    if tasks is not None and tasks > 1:
        nodes = int(env.get("SLURM_JOB_NUM_NODES") or env.get("SLURM_NNODES") or 1)
        if tasks != world or nodes != num_nodes:
            raise LaunchError(
                f"{request} asks for {world} processes on {num_nodes} node(s), but this Slurm job has "
                f"{tasks} tasks on {nodes} node(s): submit it with --nodes {num_nodes} --ntasks-per-node {ngpu} "
                "(conf/slurm.conf: option num_nodes=* --nodes=$0, option gpu=* ... --ntasks-per-node=$0)")
        srun = ["srun", f"--ntasks={world}", f"--nodes={num_nodes}", "--kill-on-bad-exit=1"]
        if env.get("SLURM_CPUS_PER_TASK"):  # srun 22.05-23.02 does not pass sbatch's on to the step
            srun.append(f"--cpus-per-task={env['SLURM_CPUS_PER_TASK']}")
        return [*srun, *command]
    torchrun = [python, "-m", "torch.distributed.run"]
    if num_nodes == 1:
        return [*torchrun, "--standalone", f"--nproc-per-node={ngpu}", "--no-python", *command]
    if tasks is not None:
        raise LaunchError(f"{request}: this Slurm job has a single task; for several nodes submit it with "
                          f"--nodes {num_nodes} --ntasks-per-node {ngpu} (conf/slurm.conf: option num_nodes=* "
                          "--nodes=$0, option gpu=* ... --ntasks-per-node=$0)")
    if not rdzv_endpoint:
        raise LaunchError(f"{request}: outside Slurm, several nodes need --rdzv-endpoint HOST:PORT (a host all "
                          "nodes reach, a free port), and this command started on every node")
    if rdzv_id is None:
        rdzv_id = "accent-" + hashlib.sha1(shlex.join([rdzv_endpoint, *command]).encode()).hexdigest()[:12]
    return [*torchrun, f"--nnodes={num_nodes}", f"--nproc-per-node={ngpu}", "--rdzv-backend=c10d",
            f"--rdzv-endpoint={rdzv_endpoint}", f"--rdzv-id={rdzv_id}", "--no-python", *command]
