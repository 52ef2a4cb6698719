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
import os
import shlex
import sys
from typing import Optional, Sequence

from accent.jobs.launch import LaunchError, launch_command


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
