"""Training mistakes and mishaps give a message naming the file, not a traceback: damaged
checkpoints (resume falls back to the newest intact one), config mistakes, a full disk."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import torch

from accent.training import load_checkpoint, load_model
from conftest import tiny_accent, train_cli, write_config


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    """Two epochs, both epoch checkpoints kept: epoch_2.pt, last.pt (and best.pt if epoch 2 was
    best) are one file, hard-linked."""
    root = tmp_path_factory.mktemp("two_epochs")
    conf = write_config(root / "c.yaml", tiny_accent(train__epochs=2, train__keep_checkpoints=3))
    common = ["--config", str(conf), "--train-data", str(corpus["train"]), "--dev-data", str(corpus["dev"])]
    train_cli([*common, "--exp-dir", "exp"], root)
    return root, common


def copy_exp(src: Path, dst: Path) -> Path:
    subprocess.run(["cp", "-a", str(src), str(dst)], check=True)  # keeps the hard links
    return dst


@pytest.mark.slow
def test_resume_passes_over_a_truncated_last_pt(trained, tmp_path) -> None:
    root, common = trained
    exp = copy_exp(root / "exp", tmp_path / "exp")
    (exp / ".done").unlink()
    os.truncate(exp / "last.pt", (exp / "last.pt").stat().st_size // 2)  # epoch_2.pt with it: one inode
    r = train_cli([*common, "--exp-dir", str(exp), "--resume", "--override", "train.epochs=3"], root)
    assert "Traceback" not in r.stderr
    assert f"{exp / 'last.pt'}: damaged or truncated checkpoint file" in r.stderr
    assert f"passed over, resuming from {exp / 'epoch_1.pt'}" in r.stderr
    assert "resumed from" in r.stderr and "the start of epoch 2" in r.stderr
    assert [json.loads(line)["epoch"] for line in (exp / "train_log.jsonl").read_text().splitlines()] == [1, 2, 3]
    for name in ("best.pt", "last.pt", "epoch_3.pt"):
        load_checkpoint(exp / name)  # intact again
    assert (exp / ".done").is_file()


@pytest.mark.slow
def test_an_empty_best_pt_is_named(trained, tmp_path) -> None:
    root, _ = trained
    exp = copy_exp(root / "exp", tmp_path / "exp")
    (exp / "best.pt").unlink()
    (exp / "best.pt").write_bytes(b"")
    with pytest.raises(ValueError, match=f"^{exp / 'best.pt'}: empty checkpoint file"):
        load_model(exp / "best.pt")


@pytest.mark.slow
def test_resume_with_every_checkpoint_damaged_stops(trained, tmp_path) -> None:
    root, common = trained
    exp = copy_exp(root / "exp", tmp_path / "exp")
    for p in exp.glob("*.pt"):
        p.unlink()
        p.write_bytes(b"")
    r = train_cli([*common, "--exp-dir", str(exp), "--resume"], root, check=False)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert f"{exp}: no intact checkpoint to resume from" in r.stderr


@pytest.mark.parametrize("mistake, message", [
    ("train.epochs=0", "train.epochs must be >= 1, got 0"),
    ("model.encoder.chanels=[4]", "unknown encoder 'jasper' option 'chanels'. Did you mean 'channels'"),
])
def test_config_mistakes_stop_before_training(corpus, tmp_path, mistake, message) -> None:
    conf = write_config(tmp_path / "c.yaml", tiny_accent())
    r = train_cli(["--config", str(conf), "--train-data", str(corpus["train"]), "--dev-data", str(corpus["dev"]),
                   "--exp-dir", "exp", "--override", mistake], tmp_path, check=False)
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
    assert f"{conf}: " in r.stderr and message in r.stderr, r.stderr
    assert not (tmp_path / "exp" / ".done").exists()


@pytest.fixture
def tiny_disk(tmp_path):
    """A 160 KiB tmpfs: the config files fit, the first checkpoint does not."""
    where = tmp_path / "disk"
    where.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", str(where)],
                                           capture_output=True).returncode != 0:
        pytest.skip("needs root to mount a small tmpfs")
    yield where
    subprocess.run(["umount", str(where)], check=False)


@pytest.mark.slow
def test_a_full_disk_during_a_checkpoint_save_is_named(corpus, tmp_path, tiny_disk) -> None:
    conf = write_config(tmp_path / "c.yaml", tiny_accent(train__epochs=1))
    exp = tiny_disk / "exp"
    r = train_cli(["--config", str(conf), "--train-data", str(corpus["train"]), "--dev-data", str(corpus["dev"]),
                   "--exp-dir", str(exp)], tmp_path, check=False)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert f"{exp / 'epoch_1.pt'}: no space left on the device of {exp} while saving epoch_1.pt" in r.stderr
    assert not list(exp.glob("*.pt*")) and not (exp / ".done").exists()  # no half-written checkpoint left


@pytest.mark.slow
def test_numerics_are_recorded(trained) -> None:
    root, _ = trained
    exp = root / "exp"
    results = json.loads((exp / "results.json").read_text())
    for facts in (results["numerics"], load_checkpoint(exp / "best.pt")["numerics"]):
        assert facts["torch"] == torch.__version__ and facts["torch_threads"] == "1"
        assert facts["torch_cpu_capability"] == torch.backends.cpu.get_cpu_capability()
