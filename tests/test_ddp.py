"""Data-parallel training on the CPU (gloo, 2 processes): the DDP step equals the single-process
step on the concatenated batch; ``accent.bin.launch`` + ``accent.bin.train`` with torchrun;
equal, disjoint and large-enough rank shards from the sampler; the launcher's choices."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from accent.bin.launch import LaunchError, launch_command
from accent.dataset import BucketBatchSampler
from accent.training import Trainer, load_checkpoint, load_model, resolve_config
from accent.training.config import ConfigError
from accent.training.distributed import detect_launch, slurm_port
from accent.training.trainer import code_version
from conftest import ddp_config

ROOT = Path(__file__).resolve().parents[1]

def _ddp_worker(rank: int, world: int, store: str, cfg: Dict[str, Any], exp: str, train: str, dev: str) -> None:
    torch.set_num_threads(1)
    logging.basicConfig(level=logging.WARNING)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    try:
        Trainer(cfg, exp, train, dev, device="cpu", rank=rank, world_size=world).run()
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_one_ddp_step_equals_a_single_process_step_on_the_concatenated_batch(corpus, tmp_path) -> None:
    torch.set_num_threads(1)
    cfg = resolve_config(ddp_config())
    single = Trainer(cfg, tmp_path / "single", corpus["train"], corpus["dev"], device="cpu")
    single.run()
    assert single.steps_per_epoch == 1 and single.data.train_sampler.num_batches(1) == 1
    halves = [BucketBatchSampler(single.data.train_set.lengths, 100000, cfg["data"]["max_batch_size"], seed=5, rank=r,
                                 world_size=2, min_batch_size=2).rank_batches(1) for r in (0, 1)]
    assert [len(h) for h in halves] == [1, 1] and [len(h[0]) for h in halves] == [9, 9]  # batches A and B

    mp.spawn(_ddp_worker, args=(2, str(tmp_path / "store"), cfg, str(tmp_path / "ddp"), str(corpus["train"]),
                                str(corpus["dev"])), nprocs=2, join=True)

    one = load_checkpoint(tmp_path / "single" / "epoch_1.pt")
    two = load_checkpoint(tmp_path / "ddp" / "epoch_1.pt")
    fresh = Trainer(cfg, tmp_path / "fresh", corpus["train"], corpus["dev"], device="cpu")
    fresh._setup()  # the initial weights (from the config's seed)
    start = fresh.model.state_dict()
    assert list(two["model"]) == list(one["model"]) == list(start)  # no "module." prefix
    moved = max(float((one["model"][k] - start[k]).abs().max()) for k in start)
    diff = max(float((one["model"][k] - two["model"][k]).abs().max()) for k in start)
    assert moved > 1e-3, moved  # the step changed the weights ...
    assert diff < 1e-6, diff  # ... and the same way on both sides
    # the epoch's statistics are summed over the ranks, the dev set scored in shards and summed
    a, b = one["history"][0], two["history"][0]
    for key in ("train_loss", "train_acc", "dev_loss", "dev_acc"):
        assert b[key] == pytest.approx(a[key], abs=1e-6), key
    assert b["train_utts"] == a["train_utts"] == 18
    assert two["world_size"] == 2 and len(two["rng_ranks"]) == 2
    assert not torch.equal(two["rng_ranks"][0]["torch"], two["rng_ranks"][1]["torch"])  # own dropout draws


# ------------------------------------------------------------------------------------------------
# The launcher and train.py end to end (torchrun, 2 CPU processes)


def launch_train(args: List[str], cwd: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "accent.bin.launch", "--ngpu", "2", "--",
           sys.executable, "-m", "accent.bin.train", "--num-threads", "1", "--device", "cpu", *args]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for var in [v for v in env if v.startswith("SLURM_")]:  # not inside a Slurm job, whatever runs the tests
        del env[var]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_launch_trains_on_two_processes_rank_0_writes_and_resume_works(corpus, tmp_path) -> None:
    import yaml

    cfg = ddp_config(epochs=2)
    cfg["data"]["max_frames"] = 400  # a few batches per rank
    cfg["model"]["encoder"]["dropout"] = 0.1
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    common = ["--config", "c.yaml", "--train-data", str(corpus["train"]), "--dev-data", str(corpus["dev"]),
              "--exp-dir", "exp"]
    r = launch_train(common, tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "torch.distributed.run --standalone --nproc-per-node=2" in out
    assert "rank 0 of 2 (launcher torchrun, gloo backend)" in out
    assert "distributed data-parallel: world size 2 (gloo backend)" in out
    assert out.count("accent model:") == 1 and out.count("epoch 1/2 train loss") == 1  # rank 0 logs alone
    assert "[rank 1]" not in out  # rank 1 had nothing to warn about
    exp = tmp_path / "exp"
    assert sorted(p.name for p in exp.iterdir()) == sorted(
        [".done", ".lock", "accents", "best.pt", "config.yaml", "epoch_1.pt", "epoch_2.pt", "fbank.yaml", "last.pt",
         "results.json", "tensorboard", "train_log.jsonl"])
    assert len(list((exp / "tensorboard").iterdir())) == 1  # one SummaryWriter: rank 0's
    model, ckpt = load_model(exp / "best.pt")
    assert not any(k.startswith("module.") for k in ckpt["model"])
    assert ckpt["world_size"] == 2 and ckpt["version"] and ckpt["commit"] == code_version()["commit"]
    results = json.loads((exp / "results.json").read_text())
    assert results["world_size"] == 2 and results["commit"] == ckpt["commit"] and results["version"] == ckpt["version"]
    first = [json.loads(line) for line in (exp / "train_log.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in first] == [1, 2] and first[0]["train_utts"] == 18

    (exp / ".done").unlink()
    r = launch_train([*common, "--resume", "--override", "train.epochs=3"], tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "resumed from exp/last.pt (step" in out and "continuing at the start of epoch 3" in out
    hist = [json.loads(line) for line in (exp / "train_log.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in hist] == [1, 2, 3] and hist[:2] == first
    assert hist[2]["step"] == 3 * first[0]["step"]
    assert (exp / "epoch_3.pt").is_file() and (exp / ".done").is_file()


def test_resume_mid_epoch_needs_as_many_processes(corpus, tmp_path) -> None:
    cfg = resolve_config(ddp_config(epochs=2))
    Trainer(cfg, tmp_path / "exp", corpus["train"], corpus["dev"], device="cpu").run()
    ckpt = load_checkpoint(tmp_path / "exp" / "epoch_1.pt")
    ckpt.update(batches_done=1, world_size=2, epoch_stats={"utts": 9})  # as a 2-process run's mid-epoch last.pt
    torch.save(ckpt, tmp_path / "exp" / "last.pt")
    with pytest.raises(ConfigError, match=r"middle of epoch 1 of a run with 2 process\(es\); resume it with as many"):
        Trainer(cfg, tmp_path / "exp", corpus["train"], corpus["dev"], device="cpu", resume=True).run()


# ------------------------------------------------------------------------------------------------
# The sampler: every rank the same number of batches, none below min_batch_size


def test_rank_shards_are_equal_disjoint_complete_and_never_below_the_floor() -> None:
    rng = np.random.default_rng(0)
    checked = 0
    for trial in range(400):
        n, world, floor = int(rng.integers(2, 30)), int(rng.integers(2, 5)), int(rng.integers(1, 3))
        if n < floor * world:
            continue
        lengths = rng.integers(10, 1000, n)
        max_frames = int(rng.integers(200, 3000))
        max_batch = None if trial % 3 else int(rng.integers(floor, 6))
        shards = [BucketBatchSampler(lengths, max_frames, max_batch, seed=trial, rank=r, world_size=world,
                                     min_batch_size=floor).rank_batches(1) for r in range(world)]
        assert len({len(s) for s in shards}) == 1, (n, world, floor)
        assert sorted(i for s in shards for b in s for i in b) == list(range(n))
        assert min(len(b) for s in shards for b in s) >= floor, (n, world, floor)
        checked += 1
    assert checked > 300
    # the cases that used to fail: 3 utterances, each longer than max_frames, over 2 ranks (no
    # batch to halve: two merge), and 3 + 3 with a floor of 2 over 4 ranks (dealt out afresh)
    s = [BucketBatchSampler([900, 950, 990], 500, rank=r, world_size=2).rank_batches(0) for r in (0, 1)]
    assert sorted(len(b) for shard in s for b in shard) == [1, 2]
    s = [BucketBatchSampler([50, 60, 70, 80, 90, 99, 98, 97], 200, min_batch_size=2, rank=r, world_size=4,
                            shuffle=False).rank_batches(0) for r in range(4)]
    assert [len(b) for shard in s for b in shard] == [2, 2, 2, 2]


# ------------------------------------------------------------------------------------------------
# The launcher's choice and the launch environment


def test_launch_command_choices() -> None:
    cmd = ["python", "-m", "accent.bin.train", "--x"]
    assert launch_command(1, 1, cmd, {"SLURM_JOB_ID": "7", "SLURM_NTASKS": "4"}) == cmd  # one process: as is
    tr = launch_command(2, 1, cmd, {}, python="py")
    assert tr == ["py", "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "--no-python", *cmd]
    # a Slurm job with one task (the GPUs on one node): torchrun too
    assert launch_command(2, 1, cmd, {"SLURM_JOB_ID": "7", "SLURM_NTASKS": "1"}, python="py") == tr
    env = {"SLURM_JOB_ID": "7", "SLURM_NTASKS": "8", "SLURM_JOB_NUM_NODES": "2", "SLURM_CPUS_PER_TASK": "3"}
    assert launch_command(4, 2, cmd, env) == ["srun", "--ntasks=8", "--nodes=2", "--kill-on-bad-exit=1",
                                              "--cpus-per-task=3", *cmd]
    with pytest.raises(LaunchError, match=r"this Slurm job has 8 tasks on 2 node\(s\): submit it with --nodes 1 "
                                          r"--ntasks-per-node 2"):
        launch_command(2, 1, cmd, env)
    with pytest.raises(LaunchError, match="single task; for several nodes"):
        launch_command(2, 2, cmd, {"SLURM_JOB_ID": "7"})
    with pytest.raises(LaunchError, match="several nodes need --rdzv-endpoint"):
        launch_command(2, 2, cmd, {})
    multi = launch_command(2, 2, cmd, {}, rdzv_endpoint="h1:29400", python="py")
    assert multi[3:7] == ["--nnodes=2", "--nproc-per-node=2", "--rdzv-backend=c10d", "--rdzv-endpoint=h1:29400"]
    assert multi[7].startswith("--rdzv-id=accent-") and multi == launch_command(2, 2, cmd, {}, "h1:29400", python="py")
    # inside an srun step the tasks are the processes already: no second srun
    assert launch_command(2, 1, cmd, {"SLURM_JOB_ID": "7", "SLURM_NTASKS": "2", "SLURM_STEP_ID": "0"},
                          python="py") == tr


def test_detect_launch_environment() -> None:
    assert detect_launch({}).world_size == 1
    t = detect_launch({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "MASTER_ADDR": "h", "MASTER_PORT": "5"})
    assert (t.launcher, t.rank, t.world_size, t.local_rank) == ("torchrun", 1, 2, 1)
    # the batch script of a 2-task job is one process (no step variables) ...
    batch = {"SLURM_JOB_ID": "123", "SLURM_NTASKS": "2", "SLURM_PROCID": "0", "SLURM_JOB_NODELIST": "n1"}
    assert detect_launch(batch).world_size == 1
    # ... a task of an srun step is a rank
    step = {**batch, "SLURM_STEP_NUM_TASKS": "2", "SLURM_PROCID": "1", "SLURM_LOCALID": "1", "MASTER_ADDR": "n1"}
    s = detect_launch(step)
    assert (s.launcher, s.rank, s.world_size, s.local_rank, s.master_addr) == ("slurm", 1, 2, 1, "n1")
    assert s.master_port == slurm_port("123") != slurm_port("124")
    assert 10000 <= slurm_port("99999999") < 30000
