"""Frictions of the recipe on a real corpus (issue 12): warm-ups that cannot finish, thread counts
from the job's allocation, and run.sh options (fine-tune off, presets, the sample rate, the demo AM
on real accent data, plots)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from accent.training import WarmupScheduler, resolve_config

ROOT = Path(__file__).resolve().parents[1]


def _optimizer():
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)


def test_warmup_in_epochs_or_as_a_fraction(caplog) -> None:
    s = WarmupScheduler.from_config(_optimizer(), {"name": "noam", "warmup_epochs": 2}, 330, steps_per_epoch=11)
    assert s.warmup_steps == 22
    s = WarmupScheduler.from_config(_optimizer(), {"name": "warmup_cosine", "warmup_ratio": 0.1}, 330, 11)
    assert s.warmup_steps == 33
    # a config's warm-up in epochs replaces the default one in steps
    cfg = resolve_config({"task": "asr", "model": {"encoder": {"name": "jasper"}},
                          "optim": {"scheduler": {"warmup_epochs": 1}}})
    assert cfg["optim"]["scheduler"] == {"name": "warmup_cosine", "warmup_epochs": 1, "final_lr_ratio": 0.01}
    with pytest.raises(ValueError, match="give one of warmup_steps, warmup_epochs"):
        WarmupScheduler.from_config(_optimizer(), {"warmup_steps": 5, "warmup_epochs": 1}, 100, 10)


def test_a_warmup_longer_than_half_of_training_is_warned(caplog) -> None:
    # the case: 11 batches per epoch, 30 epochs, noam with 5000 warm-up steps
    with caplog.at_level(logging.WARNING, logger="accent.training.scheduler"):
        WarmupScheduler.from_config(_optimizer(), {"name": "noam", "warmup_steps": 5000}, 330, 11)
    assert "a warm-up of 5000 steps is longer than half of the training's 330 steps (11 per epoch)" in caplog.text
    assert "reaches only 0.066 x lr" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="accent.training.scheduler"):
        WarmupScheduler.from_config(_optimizer(), {"name": "noam", "warmup_steps": 100}, 330, 11)
    assert "warm-up" not in caplog.text


def _run_pl(tmp_path: Path, *opts: str) -> str:
    log = tmp_path / "threads.log"
    code = "import os, torch; print('threads', torch.get_num_threads(), os.environ.get('OMP_NUM_THREADS'))"
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    env.pop("OMP_NUM_THREADS", None)
    r = subprocess.run([str(ROOT / "utils/run.pl"), *opts, str(log), sys.executable, "-c", code],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr + log.read_text()
    return next(line for line in log.read_text().splitlines() if line.startswith("threads"))


def test_jobs_get_the_threads_of_their_allocation(tmp_path) -> None:
    # not the machine's core count: a job without --num-threads has one, as Kaldi's jobs
    assert _run_pl(tmp_path) == "threads 1 1"
    # (torch caps its pool at the machine's cores)
    assert _run_pl(tmp_path, "--num-threads", "3").endswith(" 3")
