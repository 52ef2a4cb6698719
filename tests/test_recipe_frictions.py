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
from conftest import make_aesrc, make_corpus, make_librispeech, recipe_copy, run_recipe, tiny_accent, write_wav

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


@pytest.mark.slow
def test_jobs_get_the_threads_of_their_allocation(tmp_path) -> None:
    # not the machine's core count: a job without --num-threads has one, as Kaldi's jobs
    assert _run_pl(tmp_path) == "threads 1 1"
    # (torch caps its pool at the machine's cores)
    assert _run_pl(tmp_path, "--num-threads", "3").endswith(" 3")


# ------------------------------------------------------------------------------------------------
# run.sh


@pytest.fixture
def recipe(tmp_path) -> Path:
    r = recipe_copy(tmp_path)
    (tmp_path / "aesrc").mkdir()
    (tmp_path / "libri").mkdir()
    return r


@pytest.mark.slow
def test_empty_finetune_config_switches_the_step_off(recipe) -> None:
    r = run_recipe(recipe, "--aesrc-root", "../aesrc", "--librispeech-root", "../libri", "--stage", "4",
                   "--stop-stage", "4", "--asr-config", "", "--asr-finetune-config", "")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "Stage 4: no ASR config, nothing to pretrain" in out and "training" not in out
    assert not (recipe / "data").exists()  # no combined LibriSpeech + accent set either


@pytest.mark.slow
def test_real_accents_with_the_demo_librispeech_leave_out_the_asr_methods(recipe) -> None:
    configs = "conf/demo/hybrid/scratch.yaml conf/demo/hybrid/mtl.yaml conf/demo/hybrid/hybrid.yaml"
    common = ["--aesrc-root", "../aesrc", "--stage", "4", "--stop-stage", "4", "--accent-configs", configs]
    r = run_recipe(recipe, *common)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "WARNING: a real accent corpus (../aesrc) but no --librispeech-root" in out
    assert "leaving out stage 4 and the asr_init/mtl/hybrid configs" in out
    assert "conf/demo/hybrid/mtl.yaml: left out (needs ASR checkpoint)" in out
    assert "1 accent config(s) (stage 5): conf/demo/hybrid/scratch.yaml" in out
    assert "Stage 4: no ASR config" in out
    # on request they stay
    r = run_recipe(recipe, *common, "--allow-demo-asr", "true", "--asr-config", "none", "--asr-finetune-config", "none")
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "--allow-demo-asr true: training stage 4" in out
    assert f"3 accent config(s) (stage 5): {configs}" in out


@pytest.mark.slow
def test_presets(recipe) -> None:
    common = ["--aesrc-root", "../aesrc", "--librispeech-root", "../libri", "--stage", "4", "--stop-stage", "4",
              "--asr-config", "none", "--asr-finetune-config", "none"]
    # real corpora by default: every paper row, with a warning about the cost
    r = run_recipe(recipe, *common)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    n = len([p for d in ("baseline", "sarnet", "hybrid") for p in (recipe / "conf" / d).glob("*.yaml")
             if p.name != "base.yaml"])
    assert f"Preset paper: 0 ASR config(s) (stage 4), {n} accent config(s)" in out and n > 40
    assert "WARNING: preset paper trains every row of the papers' tables" in out and "--preset real" in out
    # --preset real: conf/real/*.yaml but its base and ASR configs
    real = recipe / "conf" / "real"
    r = run_recipe(recipe, *common, "--preset", "real")
    assert r.returncode == 0 and "1 accent config(s) (stage 5): conf/real/ecapa_c128.yaml" in r.stdout + r.stderr
    assert "--refit true: each accent config trains twice" in r.stdout + r.stderr  # the preset's default
    r = run_recipe(recipe, *common, "--preset", "real", "--refit", "false")
    assert r.returncode == 0 and "--refit true" not in r.stdout + r.stderr
    for shipped in real.glob("*.yaml"):  # the copy's: an empty conf/real/
        shipped.unlink()
    r = run_recipe(recipe, *common[:-4], "--preset", "real", "--stop-stage", "4")
    assert r.returncode == 1 and "--preset real: conf/real/ holds no accent configs" in r.stderr
    for name in ("base.yaml", "asr_small.yaml", "asr_small_ft.yaml", "ecapa.yaml", "resnet.yaml"):
        (real / name).write_text("task: accent\n")
    r = run_recipe(recipe, *common, "--preset", "real")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "Preset real: 0 ASR config(s) (stage 4), 2 accent config(s) (stage 5): conf/real/ecapa.yaml " \
        "conf/real/resnet.yaml" in out and "WARNING: preset paper" not in out
    r = run_recipe(recipe, *common[:-4], "--preset", "real", "--stage", "9")  # the lists, nothing run
    assert "Preset" not in r.stdout and r.returncode == 0


@pytest.mark.slow
def test_one_sample_rate_for_every_stage(tmp_path) -> None:
    """8 kHz accent audio with --sample-rate 8000: stage 1 accepts it, LibriSpeech (16 kHz) is resampled,
    stage 2 computes 8 kHz FBank for every set."""
    from accent.data.kaldi_dir import read_mapping
    from accent.features.fbank import FbankConfig

    root = make_aesrc(tmp_path / "aesrc", {"US": ["G00001", "G00002"], "UK": ["G00003", "G00004"]})
    for i, wav in enumerate(sorted(root.rglob("*.wav"))):
        write_wav(wav, 0.6, sample_rate=8000, seed=i)
    dev = tmp_path / "dev.list"
    dev.write_text("US G00001\nUK G00003\n")
    libri = tmp_path / "libri"
    make_librispeech(libri, "train-clean-100", utts=2)
    make_librispeech(libri, "dev-clean", speakers=(40,), utts=2)
    recipe = recipe_copy(tmp_path)
    r = run_recipe(recipe, "--aesrc-root", str(root), "--dev-spk-list", str(dev), "--librispeech-root", str(libri),
                   "--stage", "1", "--stop-stage", "2", "--nj", "1", "--sample-rate", "8000")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "LibriSpeech (16 kHz) resampled to 8000 Hz" in out
    for name in ("train", "dev", "libri_train", "libri_dev"):
        d = recipe / "data" / name
        assert FbankConfig.from_yaml(d / "conf" / "fbank.yaml").sample_rate == 8000
        assert len(read_mapping(d / "feats.scp")) == len(read_mapping(d / "wav.scp"))
    wav_scp = read_mapping(recipe / "data" / "libri_train" / "wav.scp")
    assert all(v.startswith("sox ") and "-r 8000" in v and v.endswith("|") for v in wav_scp.values())
    assert set(read_mapping(recipe / "data" / "libri_train" / "converted_audio")) == set(wav_scp)
    assert "converted_audio" not in {p.name for p in (recipe / "data" / "train").iterdir()}  # already 8 kHz


@pytest.mark.slow
def test_stage6_without_plots_merges_results_and_scores_the_averaged_checkpoint(tmp_path) -> None:
    import yaml

    from accent.training import Trainer

    torch.set_num_threads(1)
    recipe = recipe_copy(tmp_path)
    data = make_corpus(recipe)
    tiny = recipe / "conf" / "tiny"
    tiny.mkdir()
    for name, over in (("a", {}), ("b", {"train__average_last": 2})):
        cfg = resolve_config(tiny_accent(train__epochs=2, **over))
        (tiny / f"{name}.yaml").write_text(yaml.safe_dump(cfg))
        Trainer(cfg, recipe / "exp" / f"tiny_{name}", data["train"], data["dev"], device="cpu").run()
    assert (recipe / "exp" / "tiny_b" / "avg_2.pt").is_file()
    common = ["--stage", "6", "--stop-stage", "6", "--plots", "false", "--score-opts", "--num-threads 1"]
    for name in ("a", "b"):  # two stage-6 calls, one experiment each
        r = run_recipe(recipe, *common, "--accent-configs", f"conf/tiny/{name}.yaml")
        assert r.returncode == 0, r.stdout + r.stderr
    for name in ("a", "b"):
        exp = recipe / "exp" / f"tiny_{name}"
        assert not (exp / "plots").exists() or not list((exp / "plots").glob("embeddings_*"))
        assert not list(exp.glob("decode_train*"))  # no training subsample decoded for plots
    rows = {ln.strip("|").split("|")[0].strip(): [c.strip() for c in ln.strip("|").split("|")]
            for ln in (recipe / "RESULTS.md").read_text().splitlines() if ln.startswith("| tiny_")}
    assert sorted(rows) == ["tiny_a", "tiny_b"]
    assert rows["tiny_a"][-2] == "best.pt" and rows["tiny_b"][-2] == "avg_2.pt"
    assert (recipe / "exp" / "tiny_b" / "decode_dev_avg_2" / "predictions.tsv").is_file()
    assert "Checkpoint: `exp/tiny_b/avg_2.pt`" in (recipe / "exp" / "tiny_b" / "results.md").read_text()
