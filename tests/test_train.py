"""accent.training + accent.bin.train on tiny real data (generated audio -> FBank -> kaldiio).

Overfitting, exact resumption after a kill, weights_only checkpoints, the frozen reference AM of
the hybrid model, and train.py end to end for both tasks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest
import torch
import yaml

from accent.training import Trainer, load_checkpoint, load_model, resolve_config
from accent.training.checkpoint import average_checkpoints
from accent.training.config import ConfigError
from conftest import ACCENTS, TINY_JASPER, processes_in, tiny_accent, train_cli, wait_for, write_config

ROOT = Path(__file__).resolve().parents[1]

def history(exp: Path) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in (exp / "train_log.jsonl").read_text().splitlines()]


def same_records(a: Dict[str, Any], b: Dict[str, Any]) -> None:
    for key in ("epoch", "step", "lr", "train_loss", "train_acc", "dev_loss", "dev_acc"):
        if isinstance(a.get(key), float):
            assert b[key] == pytest.approx(a[key], rel=1e-6, abs=1e-6), key
        else:
            assert a.get(key) == b.get(key), key


# ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_tiny_model_overfits_to_100_percent(corpus, tmp_path) -> None:
    torch.set_num_threads(1)
    cfg = resolve_config(tiny_accent(data__specaug=None, train__epochs=30, optim__lr=1e-2,
                                     optim__scheduler={"name": "constant", "warmup_steps": 5}))
    # dev = the training set itself: accuracy in eval mode on the utterances it was trained on
    res = Trainer(cfg, tmp_path / "exp", corpus["train"], corpus["train"], device="cpu").run()
    hist = history(tmp_path / "exp")
    assert res["best_value"] == 1.0, [r["dev_acc"] for r in hist]
    assert max(r["train_acc"] for r in hist) == 1.0
    assert hist[-1]["train_loss"] < hist[0]["train_loss"] / 3
    assert (tmp_path / "exp" / ".done").is_file()


@pytest.fixture(scope="module")
def uninterrupted(corpus, tmp_path_factory):
    """A 6-epoch run with everything that must resume exactly: dropout, SpecAugment, a cosine
    schedule, a margin head with a ramp; last.pt saved after every step."""
    root = tmp_path_factory.mktemp("resume")
    cfg = tiny_accent(train__epochs=6, train__save_interval_steps=1,
                      train__margin_ramp={"start_epoch": 1, "end_epoch": 3, "initial": 0.0},
                      model__head={"name": "cosface", "scale": 10, "margin": 0.2})
    conf = write_config(root / "c.yaml", cfg)
    common = ["--config", str(conf), "--train-data", str(corpus["train"]), "--dev-data", str(corpus["dev"])]
    train_cli([*common, "--exp-dir", "full"], root)
    return root, common, history(root / "full")


def kill_when(proc: subprocess.Popen, ready, timeout: float = 240):
    """SIGKILL ``proc`` as soon as ``ready()`` returns something true; returns that value."""
    deadline = time.time() + timeout
    while proc.poll() is None and time.time() < deadline:
        try:
            value = ready()
        except Exception:  # noqa: BLE001 - a checkpoint replaced while we read it: try again
            value = None
        if value:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return value
        time.sleep(0.005)
    raise AssertionError("the run finished before it could be killed")


@pytest.mark.slow
@pytest.mark.parametrize("where", ["epoch_boundary", "mid_epoch"])
def test_resume_after_sigkill_equals_uninterrupted_run(uninterrupted, where) -> None:
    root, common, full = uninterrupted
    exp = root / where
    proc = train_cli([*common, "--exp-dir", where], root, wait=False)
    if where == "epoch_boundary":
        kill_when(proc, lambda: (exp / "epoch_1.pt").is_file())
        (exp / "last.pt").unlink(missing_ok=True)  # resume from epoch_1.pt, not from a later step
    else:
        def mid_epoch():
            state = torch.load(exp / "last.pt", weights_only=True, map_location="cpu")
            return state["epoch"] >= 2 and state["batches_done"] > 0
        kill_when(proc, mid_epoch)
    assert not (exp / ".done").exists()
    # without --resume, an experiment directory with checkpoints is refused
    r = train_cli([*common, "--exp-dir", where], root, check=False) if where == "epoch_boundary" else None
    if r is not None:
        assert r.returncode != 0 and "pass --resume" in r.stderr
    r = train_cli([*common, "--exp-dir", where, "--resume"], root)
    assert "resumed from" in r.stderr
    assert ("batch" in r.stderr.split("resumed from")[1].splitlines()[0]) == (where == "mid_epoch")
    cut = history(exp)
    assert len(full) == len(cut) == 6
    for a, b in zip(full, cut):
        same_records(a, b)
    assert cut[-1]["margin"] == pytest.approx(0.2)
    wa = load_checkpoint(root / "full" / "epoch_6.pt")["model"]
    wb = load_checkpoint(exp / "epoch_6.pt")["model"]
    assert all(torch.allclose(wa[k].float(), wb[k].float(), atol=1e-6) for k in wa)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc to check processes")
def test_sigkill_of_the_job_runner_stops_the_training_and_the_rerun_is_identical(uninterrupted) -> None:
    """kill -9 of run.pl's process group mid-training: the trainer (in a session of its own) dies
    with it, the experiment is not locked by a survivor, and the rerun resumes to the same model."""
    root, common, full = uninterrupted
    run_dir = root / "via_run_pl"
    run_dir.mkdir()
    cmd = [str(ROOT / "utils" / "run.pl"), "exp/log/train.log", sys.executable, "-m", "accent.bin.train",
           "--num-threads", "1", *common, "--exp-dir", "exp", "--resume"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(cmd, cwd=run_dir, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: (run_dir / "exp/epoch_2.pt").is_file(), 240)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert wait_for(lambda: not processes_in(run_dir.resolve()), 15), processes_in(run_dir.resolve())
    assert not (run_dir / "exp/.done").exists()
    r = subprocess.run(cmd, cwd=run_dir, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, (run_dir / "exp/log/train.log").read_text()
    assert "resumed from" in (run_dir / "exp/log/train.log").read_text()
    cut = history(run_dir / "exp")
    assert len(cut) == len(full) == 6
    for a, b in zip(full, cut):
        same_records(a, b)
    wa = load_checkpoint(root / "full" / "best.pt")["model"]
    wb = load_checkpoint(run_dir / "exp" / "best.pt")["model"]
    assert all(torch.allclose(wa[k].float(), wb[k].float(), atol=1e-6) for k in wa)


@pytest.mark.slow
def test_checkpoints_load_weights_only_and_average(corpus, tmp_path) -> None:
    torch.set_num_threads(1)
    cfg = resolve_config(tiny_accent(train__epochs=3, train__keep_checkpoints=2, train__average_last=2))
    exp = tmp_path / "exp"
    Trainer(cfg, exp, corpus["train"], corpus["dev"], device="cpu").run()
    assert sorted(p.name for p in exp.glob("*.pt")) == ["avg_2.pt", "best.pt", "epoch_2.pt", "epoch_3.pt", "last.pt"]
    for p in exp.glob("*.pt"):
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
        assert ckpt["labels"] == list(ACCENTS) and ckpt["config"]["task"] == "accent"
        assert isinstance(ckpt["config"], dict) and ckpt["config"]["data"]["cmvn"] == "global"
        assert "normalize.mean" in ckpt["model"]  # the CMVN statistics travel in the state dict
    assert yaml.safe_load((exp / "config.yaml").read_text()) == load_checkpoint(exp / "best.pt")["config"]
    assert (exp / "accents").read_text().split() == list(ACCENTS)
    best_epoch = json.loads((exp / "results.json").read_text())["best_epoch"]
    assert load_checkpoint(exp / "best.pt")["epoch"] == best_epoch
    # the average of the last two epochs
    avg = load_checkpoint(exp / "avg_2.pt")
    e2, e3 = load_checkpoint(exp / "epoch_2.pt")["model"], load_checkpoint(exp / "epoch_3.pt")["model"]
    k = "encoder.prologue.conv.weight"
    assert torch.allclose(avg["model"][k], (e2[k] + e3[k]) / 2)
    assert "optimizer" not in avg
    # the CLI does the same
    r = subprocess.run([sys.executable, "-m", "accent.bin.average_checkpoints", "--exp-dir", str(exp), "--num", "2",
                        "--out", str(tmp_path / "avg.pt")],
                       capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.returncode == 0, r.stderr
    cli = load_checkpoint(tmp_path / "avg.pt")
    assert torch.equal(cli["model"][k], avg["model"][k])
    # a trained model loads back for inference
    model, ckpt = load_model(exp / "avg_2.pt")
    x = torch.randn(2, 90, 40)
    assert model.predict(x, torch.tensor([90, 70]))[0].shape == (2, len(ACCENTS))
    assert average_checkpoints([exp / "epoch_3.pt"])["model"][k].equal(e3[k])


@pytest.mark.slow
def test_train_py_asr_then_hybrid_keeps_the_reference_am_bit_identical(corpus, tmp_path) -> None:
    data = corpus["train"].parent
    # stage 4: phone-CTC ASR
    asr_cfg = {"task": "asr", "model": {"encoder": dict(TINY_JASPER)}, "data": {"max_frames": 400},
               "optim": {"lr": 3e-3}, "train": {"epochs": 2, "log_interval_steps": 0}}
    conf = write_config(tmp_path / "asr.yaml", asr_cfg)
    r = train_cli(["--config", str(conf), "--train-data", str(data / "libri_train"), "--dev-data",
                   str(data / "libri_dev"), "--exp-dir", "exp/asr", "--lang-dir", str(corpus["lang"]),
                   "--cmvn", str(data / "libri_train" / "cmvn.ark")], tmp_path)
    assert "exp/asr: best dev_per" in r.stdout
    asr = tmp_path / "exp" / "asr"
    for name in ("config.yaml", "units.txt", "train_log.jsonl", "results.json", ".done", "best.pt"):
        assert (asr / name).exists(), name
    assert "dev_per" in history(asr)[-1] and "train_acc" not in history(asr)[-1]
    assert list((asr / "tensorboard").glob("events.out.tfevents.*"))
    assert (asr / "units.txt").read_text() == (corpus["lang"] / "units.txt").read_text()

    # methods that initialise from ASR need its checkpoint
    hyb = tiny_accent(method="hybrid", train__epochs=1, model__ctc_weight=0.2, model__reference_encoder="same",
                      model__fusion="concat_ca")
    conf = write_config(tmp_path / "hybrid.yaml", hyb)
    common = ["--config", str(conf), "--train-data", str(data / "train"), "--dev-data", str(data / "dev"),
              "--exp-dir", "exp/hybrid"]
    r = train_cli(common, tmp_path, check=False)
    assert r.returncode != 0 and "give --asr-checkpoint" in r.stderr
    # stage 5: the hybrid model (lang dir and CMVN by default from the data dir's neighbours)
    r = train_cli([*common, "--asr-checkpoint", "exp/asr/best.pt"], tmp_path)
    assert "exp/hybrid: best dev_acc" in r.stdout
    assert "initialised from exp/asr/best.pt: encoder + reference_encoder + CTC head" in r.stderr
    rec = history(tmp_path / "exp" / "hybrid")[-1]
    assert {"train_ctc_loss", "train_accent_loss", "dev_acc", "dev_per", "dev_acc_per_accent"} <= set(rec)

    asr_state = load_checkpoint(asr / "best.pt")["model"]
    hyb_state = load_checkpoint(tmp_path / "exp" / "hybrid" / "epoch_1.pt")["model"]
    ref = {k[len("reference_encoder."):]: v for k, v in hyb_state.items() if k.startswith("reference_encoder.")}
    enc = {k[len("encoder."):]: v for k, v in asr_state.items() if k.startswith("encoder.")}
    assert ref.keys() == enc.keys() and len(ref) > 10
    for k in enc:  # weights and BN statistics alike, bit for bit
        assert torch.equal(ref[k], enc[k]), k
    trained = {k[len("encoder."):]: v for k, v in hyb_state.items() if k.startswith("encoder.")}
    assert not torch.equal(trained["prologue.conv.weight"], enc["prologue.conv.weight"])  # the trainable AM moved
    assert hyb_state["encoder.prologue.bn.num_batches_tracked"] > asr_state["encoder.prologue.bn.num_batches_tracked"]


def test_lang_dir_defaults_next_to_the_data_and_bad_inputs(corpus, tmp_path) -> None:
    cfg = resolve_config(tiny_accent(model__ctc_weight=0.3))
    tr = Trainer(cfg, tmp_path / "e", corpus["train"], corpus["dev"], device="cpu")
    assert tr.lang_dir == corpus["train"].parent / "lang_phn" == corpus["lang"]
    assert tr.cmvn_path == corpus["train"] / "cmvn.ark"
    with pytest.raises(ConfigError, match="method asr_init initialises from an ASR checkpoint"):
        Trainer(resolve_config(tiny_accent(method="asr_init")), tmp_path / "e2", corpus["train"], corpus["dev"])
    with pytest.raises(ValueError, match="CUDA is not available"):
        if torch.cuda.is_available():
            raise ValueError("CUDA is not available (skipped: there is a GPU)")
        Trainer(cfg, tmp_path / "e3", corpus["train"], corpus["dev"], device="cuda")
