"""Start a command as ``--ngpu N`` x ``--num-nodes M`` data-parallel processes (one per GPU).

    python -m accent.bin.launch --ngpu 4 [--num-nodes 2] -- python -m accent.bin.train ...

One process in all (N x M = 1): the command runs as it is.  Otherwise:

* inside a Slurm job with several tasks (``SLURM_NTASKS`` > 1; ``--ntasks-per-node`` = GPUs per
  node, see conf/slurm.conf): ``srun`` starts the command once per task, N x M tasks on M nodes;
  each process takes its rank and the master (the job's first node) from Slurm's environment;
* else on one node: ``torchrun --standalone --nproc-per-node N``: a c10d rendezvous on a free
  port with a fresh id, so two jobs on one machine do not collide;
* else (several nodes without Slurm): ``torchrun --nnodes M --rdzv-endpoint HOST:PORT``, to be
  started on every node with the same ``--rdzv-endpoint`` (a host all nodes reach and a free port
  on it) and ``--rdzv-id`` (default: derived from the command and the endpoint).

Without a GPU the processes train on the CPU (gloo backend): ``--ngpu 2`` is then 2 processes.
The launch command line is printed (to stderr) before the launcher replaces itself with it.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shlex
import sys
from typing import List, Mapping, Optional, Sequence


class LaunchError(Exception):
    """The request cannot be met in this environment; the message says what to change."""


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got '{value}'")
    return n


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="accent.bin.launch", description=__doc__.split("\n\n")[0],
                                usage="python -m accent.bin.launch [--ngpu N] [--num-nodes M] "
                                      "[--rdzv-endpoint HOST:PORT] [--rdzv-id ID] -- command [args...]")
    p.add_argument("--ngpu", type=_positive, default=1, help="processes (GPUs) per node")
    p.add_argument("--num-nodes", type=_positive, default=1, help="nodes")
    p.add_argument("--rdzv-endpoint", default=None,
                   help="HOST:PORT of torchrun's rendezvous for several nodes outside Slurm")
    p.add_argument("--rdzv-id", default=None, help="rendezvous id (several nodes outside Slurm)")
    p.add_argument("command", nargs=argparse.REMAINDER, help="the training command, after --")
    return p


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


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = build_parser().parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    try:
        argv_out = launch_command(args.ngpu, args.num_nodes, command, os.environ, args.rdzv_endpoint, args.rdzv_id)
    except LaunchError as e:
        raise SystemExit(f"accent.bin.launch: error: {e}")
    if argv_out != command:
        print(f"accent.bin.launch: {shlex.join(argv_out)}", file=sys.stderr, flush=True)
    try:
        os.execvp(argv_out[0], argv_out)  # the launcher's process becomes the launch: signals reach it
    except OSError as e:
        raise SystemExit(f"accent.bin.launch: error: cannot run {argv_out[0]}: {e.strerror}")


if __name__ == "__main__":
    main()
