"""Data-parallel training (DDP): where this process sits among the ranks, and the process group.

A training is started as N processes by one of two launchers (``accent.bin.launch`` picks one):

* ``torchrun`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``
  (its c10d rendezvous: with ``--standalone`` a free port and a fresh run id, so that two jobs on
  one machine never meet);
* ``srun`` (Slurm, one task per GPU) sets ``SLURM_PROCID``, ``SLURM_STEP_NUM_TASKS`` and
  ``SLURM_LOCALID``; the master is the first node of the step (``scontrol show hostnames``) and
  its port is derived from ``SLURM_JOB_ID``, so that concurrent jobs use different ports
  (``MASTER_ADDR`` / ``MASTER_PORT`` in the environment win, e.g. when that port is taken).

``SLURM_STEP_NUM_TASKS`` exists only inside an ``srun`` step: the batch script of a multi-task
job (which has ``SLURM_NTASKS`` and ``SLURM_PROCID=0`` too) is one process, not rank 0 of N.

One process, with neither launcher, has no process group at all.  On CUDA each process uses the
GPU of its local rank and NCCL; on CPU, gloo.
"""

from __future__ import annotations

import datetime
import logging
import os
import random
import subprocess
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Sequence

import numpy as np
import torch
import torch.distributed as dist

log = logging.getLogger(__name__)

# MASTER_PORT under srun: BASE + job id modulo SPAN, below Linux's ephemeral ports (32768-60999)
# so that no outgoing connection holds it; two jobs get the same port only SPAN job ids apart.
SLURM_PORT_BASE = 10000
SLURM_PORT_SPAN = 20000


class DistributedError(RuntimeError):
    """The launch environment is inconsistent (the message says what to change)."""


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the training: rank among ``world_size`` processes, its local rank
    on the node, the launcher that started it, the process group's backend, its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    launcher: str = "none"  # none | torchrun | slurm
    backend: Optional[str] = None  # nccl | gloo (None: no process group)
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


@dataclass(frozen=True)
class LaunchEnv:
    """What the launcher's environment variables say (before any process group exists)."""

    launcher: str
    rank: int
    world_size: int
    local_rank: int
    master_addr: Optional[str] = None
    master_port: Optional[int] = None


def _int(env: Mapping[str, str], name: str) -> int:
    try:
        return int(env[name])
    except (KeyError, ValueError):
        raise DistributedError(f"environment variable {name}={env.get(name)!r} is not an integer") from None


def slurm_port(job_id: str) -> int:
    return SLURM_PORT_BASE + int(job_id) % SLURM_PORT_SPAN


def first_host(nodelist: str) -> str:
    """The first host of a Slurm node list (``node[01-04]`` -> ``node01``), by ``scontrol``."""
    try:
        r = subprocess.run(["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise DistributedError(f"cannot run 'scontrol show hostnames {nodelist}': {e}") from None
    hosts = r.stdout.split()
    if r.returncode != 0 or not hosts:
        raise DistributedError(f"'scontrol show hostnames {nodelist}' failed: {r.stderr.strip() or 'no hosts'}")
    return hosts[0]


def detect_launch(env: Optional[Mapping[str, str]] = None) -> LaunchEnv:
    """torchrun's variables, else an srun step's, else a single process."""
    env = os.environ if env is None else env
    if "RANK" in env and "WORLD_SIZE" in env:
        return LaunchEnv("torchrun", _int(env, "RANK"), _int(env, "WORLD_SIZE"),
                         _int(env, "LOCAL_RANK") if "LOCAL_RANK" in env else 0,
                         env.get("MASTER_ADDR"), int(env["MASTER_PORT"]) if env.get("MASTER_PORT") else None)
    if "SLURM_STEP_NUM_TASKS" in env and _int(env, "SLURM_STEP_NUM_TASKS") > 1:
        world = _int(env, "SLURM_STEP_NUM_TASKS")
        addr = env.get("MASTER_ADDR") or first_host(env.get("SLURM_STEP_NODELIST") or env["SLURM_JOB_NODELIST"])
        port = int(env["MASTER_PORT"]) if env.get("MASTER_PORT") else slurm_port(env["SLURM_JOB_ID"])
        return LaunchEnv("slurm", _int(env, "SLURM_PROCID"), world, _int(env, "SLURM_LOCALID"), addr, port)
    return LaunchEnv("none", 0, 1, 0)


def _device(requested: str, local_rank: int, world_size: int) -> torch.device:
    """``auto``/``cuda``: the GPU of the local rank (``cuda:0`` when the launcher shows each task
    only its own GPU); ``cpu``: the CPU.  A fixed ``cuda:N`` cannot serve several processes."""
    requested = requested or "auto"
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(requested)
    if dev.type != "cuda":
        return dev
    if not torch.cuda.is_available():
        raise DistributedError(f"--device {requested}: CUDA is not available here")
    if world_size == 1:
        return dev
    if dev.index is not None:
        raise DistributedError(f"--device {requested} with {world_size} processes: give --device cuda (or auto); "
                               "each process takes the GPU of its local rank")
    count = torch.cuda.device_count()
    if local_rank < count:
        return torch.device("cuda", local_rank)
    if count == 1:
        return torch.device("cuda", 0)
    raise DistributedError(f"local rank {local_rank} but only {count} GPUs are visible on this node")


def init_distributed(device: str = "auto", env: Optional[Mapping[str, str]] = None,
                     timeout_s: float = 1800.0) -> DistInfo:
    """Join the process group the launcher set up (none for a single process); returns where we are."""
    launch = detect_launch(env)
    dev = _device(device, launch.local_rank, launch.world_size)
    if launch.world_size == 1:
        return DistInfo(device=dev)
    if not 0 <= launch.rank < launch.world_size:
        raise DistributedError(f"rank {launch.rank} outside a world of {launch.world_size} processes")
    backend = "nccl" if dev.type == "cuda" else "gloo"
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        init = f"tcp://{launch.master_addr}:{launch.master_port}" if launch.launcher == "slurm" else "env://"
        dist.init_process_group(backend, init_method=init, rank=launch.rank, world_size=launch.world_size,
                                timeout=datetime.timedelta(seconds=timeout_s))
    return DistInfo(launch.rank, launch.world_size, launch.local_rank, launch.launcher, backend, dev)


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


# ------------------------------------------------------------------------------------------------
# Collectives used by the trainer (no-ops for a single process)


def _active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _comm_device() -> torch.device:
    # NCCL reduces CUDA tensors only (on the current device); gloo CPU tensors.
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def all_reduce_sum(values: Sequence[float]) -> np.ndarray:
    """Element-wise sum over the ranks, in float64 (counts stay exact up to 2**53)."""
    arr = np.asarray(values, dtype=np.float64)
    if not _active():
        return arr
    t = torch.from_numpy(arr.copy()).to(_comm_device())
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.cpu().numpy()


def all_true(flag: bool) -> bool:
    """True on every rank iff ``flag`` is true on every rank."""
    if not _active():
        return flag
    t = torch.tensor([1 if flag else 0], dtype=torch.int32, device=_comm_device())
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item())


def gather_objects(obj: Any) -> List[Any]:
    """Every rank's ``obj`` (picklable), in rank order, on every rank."""
    if not _active():
        return [obj]
    out: List[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def rank_seed(seed: int, rank: int, *extra: int) -> int:
    """A seed of its own for each rank (and each ``extra``, e.g. the step of a resumption)."""
    return int(np.random.SeedSequence([int(seed), int(rank), *map(int, extra)]).generate_state(1)[0])
