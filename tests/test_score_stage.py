"""Stage 6 end to end: accent.bin.score and accent.bin.collect_results on a tiny trained model.

The model is trained on real generated audio (tests/test_dataset.py ``make_corpus``); scoring must
agree with the trainer's own dev evaluation of the best epoch, write every file and figure, treat
an unlabelled set as predictions only, and do nothing on a rerun.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import matplotlib.image
import numpy as np
import pytest
import torch

from accent.data.kaldi_dir import read_mapping, write_mapping
from accent.evaluation.decode import read_predictions
from accent.evaluation.results_table import commit_of
from accent.training import Trainer, resolve_config
from test_dataset import make_corpus
from test_train import tiny_accent

ROOT = Path(__file__).resolve().parents[1]
SETS = ("train", "dev", "test")


def cli(module: str, args: List[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    r = subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=300)
    if check and r.returncode != 0:
        raise AssertionError(f"{module} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


def score_args(root: Path, data: Dict[str, Path]) -> List[str]:
    return ["--exp-dir", "exp/tiny", "--data", f"dev={data['dev']}", "--data", f"test={data['test']}",
            "--embed-data", f"train={data['train']}", "--num-threads", "1"]


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """A tiny model trained for 3 epochs, then scored on dev (labelled), test (unlabelled) and train."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("score")
    data = make_corpus(root)
    # an unlabelled test set: the dev features without utt2accent
    test = root / "data" / "test"
    shutil.copytree(data["dev"], test)
    (test / "utt2accent").unlink()
    data["test"] = test
    cfg = resolve_config(tiny_accent(train__epochs=3))
    Trainer(cfg, root / "exp" / "tiny", data["train"], data["dev"], device="cpu").run()
    r = cli("accent.bin.score", score_args(root, data), root)
    return root, data, r


def test_files_and_figures(scored) -> None:
    root, _, _ = scored
    exp = root / "exp" / "tiny"
    for name in ("train", "dev"):
        d = exp / f"decode_{name}"
        for f in ("predictions.tsv", "embeddings.ark", "embeddings.scp", "results.md", "results.csv",
                  "confusion.txt", "confusion.png"):
            assert (d / f).is_file() and (d / f).stat().st_size > 0, d / f
    assert sorted(f.name for f in (exp / "decode_test").iterdir()) == [
        "embeddings.ark", "embeddings.scp", "predictions.tsv"]
    pngs = [exp / "decode_dev" / "confusion.png", exp / "plots" / "train_curves.png"]
    pngs += [exp / "plots" / f"embeddings_{s}_{m}_{k}d.png" for s in ("train", "dev") for m in ("tsne", "pca")
             for k in (2, 3)]
    for png in pngs:
        img = matplotlib.image.imread(png)
        assert img.ndim == 3 and img.shape[0] > 150 and img.shape[1] > 150, (png, img.shape)
        assert img[..., :3].std() > 0.05, f"{png} is blank"
    assert not list(exp.rglob("*.tmp"))
    assert not (exp / "plots" / "embeddings_test_pca_2d.png").exists()  # no labels, no colours


def test_scores_agree_with_predictions_and_the_trainer(scored) -> None:
    root, data, _ = scored
    exp = root / "exp" / "tiny"
    pred = read_predictions(exp / "decode_dev" / "predictions.tsv")
    assert sorted(pred.utts) == sorted(read_mapping(data["dev"] / "feats.scp"))
    assert pred.refs == [read_mapping(data["dev"] / "utt2accent")[u] for u in pred.utts]
    with open(exp / "decode_dev" / "predictions.tsv") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    for r in rows:  # posteriors sum to one and the prediction is their argmax
        post = {a: float(r[a]) for a in pred.labels}
        assert sum(post.values()) == pytest.approx(1.0, abs=1e-3)
        assert r["hyp"] == max(post, key=post.get)
    acc = np.mean([h == r for h, r in zip(pred.hyps, pred.refs)])
    per = {a: np.mean([h == r for h, r in zip(pred.hyps, pred.refs) if r == a]) for a in set(pred.refs)}

    # the trainer's dev evaluation of the best epoch (best.pt) gave the same numbers
    log = [json.loads(x) for x in (exp / "train_log.jsonl").read_text().splitlines()]
    best = json.loads((exp / "results.json").read_text())["best_epoch"]
    record = next(r for r in log if r["epoch"] == best)
    assert acc == pytest.approx(record["dev_acc"])
    assert per == pytest.approx(record["dev_acc_per_accent"])

    with open(exp / "results.csv") as f:
        summary = list(csv.DictReader(f))
    assert [r["set"] for r in summary] == ["dev"]  # the unlabelled test set is not scored
    assert float(summary[0]["acc"]) == pytest.approx(100 * acc, abs=0.005)
    assert float(summary[0]["macro"]) == pytest.approx(100 * np.mean(list(per.values())), abs=0.005)
    assert list(summary[0])[2:5] == ["US", "UK", "IND"]  # AESRC order
    for a in ("US", "UK", "IND"):
        assert float(summary[0][a]) == pytest.approx(100 * per[a], abs=0.005)
    # the train subsample is decoded whole here (18 utterances < --max-embed-utts)
    assert len(read_predictions(exp / "decode_train" / "predictions.tsv").utts) == 18


def test_rerun_is_a_no_op_until_the_checkpoint_changes(scored) -> None:
    root, data, _ = scored
    exp = root / "exp" / "tiny"
    files = sorted(p for p in exp.rglob("*") if p.is_file() and p.suffix != ".pt")
    before = {p: p.stat().st_mtime_ns for p in files}
    r = cli("accent.bin.score", score_args(root, data), root)
    assert "decode_dev: up to date" in r.stderr
    assert {p: p.stat().st_mtime_ns for p in files} == before
    # a checkpoint newer than the outputs (retrained) is scored again
    t = max(before.values()) / 1e9 + 1
    os.utime(exp / "best.pt", (t, t))
    cli("accent.bin.score", [*score_args(root, data), "--no-plots"], root)
    assert (exp / "decode_dev" / "predictions.tsv").stat().st_mtime_ns > before[exp / "decode_dev" / "predictions.tsv"]


def test_collect_results_row(scored) -> None:
    root, _, _ = scored
    r = cli("accent.bin.collect_results", ["--out", "RESULTS.md", "exp/tiny"], root)
    table = (root / "RESULTS.md").read_text()
    assert r.stdout == table
    rows = [[c.strip() for c in ln.strip("|").split("|")] for ln in table.splitlines() if ln.startswith("|")]
    assert rows[0] == ["experiment", "config", "US", "UK", "IND", "dev acc", "dev macro", "commit"]
    with open(root / "exp" / "tiny" / "results.csv") as f:
        dev = next(csv.DictReader(f))
    commit = json.loads((root / "exp" / "tiny" / "results.json").read_text()).get("commit")
    assert rows[2][0] == "tiny" and rows[2][2:7] == [dev[k] for k in ("US", "UK", "IND", "acc", "macro")]
    assert rows[2][-1] == commit_of(root / "exp" / "tiny") and (rows[2][-1] == "n/a") == (not commit)


def test_bad_inputs_are_named(scored, tmp_path) -> None:
    root, data, _ = scored
    r = cli("accent.bin.score", ["--exp-dir", "exp/none", "--data", f"dev={data['dev']}"], root, check=False)
    assert r.returncode == 1 and "exp/none/best.pt: checkpoint not found" in r.stderr
    r = cli("accent.bin.score", ["--exp-dir", "exp/tiny", "--data", str(data["dev"])], root, check=False)
    assert r.returncode == 2 and "expected NAME=DATA_DIR" in r.stderr
    # a label the model does not know
    other = tmp_path / "other"
    shutil.copytree(data["dev"], other)
    labels = read_mapping(other / "utt2accent")
    labels[next(iter(labels))] = "KR"
    write_mapping(other / "utt2accent", labels)
    r = cli("accent.bin.score", ["--exp-dir", "exp/tiny", "--data", f"other={other}"], root, check=False)
    assert r.returncode == 1 and f"{other / 'utt2accent'}: labels ['KR'] are not in" in r.stderr
    assert not (root / "exp" / "tiny" / "decode_other" / "predictions.tsv").exists()
