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
import yaml

from accent.data.kaldi_dir import read_mapping, write_mapping
from accent.evaluation.predictions import read_predictions
from accent.evaluation.results_table import commit_of
from accent.training.checkpoint import average_checkpoints, experiment_checkpoint
from accent.training import Trainer, resolve_config
from conftest import make_corpus, tiny_accent, write_wav

pytestmark = pytest.mark.slow  # stage 6 on trained models

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
        "embeddings.ark", "embeddings.scp", "predictions.tsv", "utt2spk"]
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
    for r in rows:  # log-posteriors: the posteriors sum to one and the prediction is their argmax
        post = {a: np.exp(float(r["logp_" + a])) for a in pred.labels}
        assert sum(post.values()) == pytest.approx(1.0, abs=1e-6)
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
    # the unlabelled test set is not scored; dev per utterance and per speaker
    assert [(r["set"], r["unit"]) for r in summary] == [("dev", "utt"), ("dev", "spk")]
    assert float(summary[0]["acc"]) == pytest.approx(100 * acc, abs=0.005)
    assert float(summary[0]["macro"]) == pytest.approx(100 * np.mean(list(per.values())), abs=0.005)
    assert list(summary[0])[3:6] == ["US", "UK", "IND"]  # AESRC order
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
    assert rows[0] == ["experiment", "config", "US", "UK", "IND", "dev acc", "dev macro", "dev spk acc",
                       "checkpoint", "commit"]
    with open(root / "exp" / "tiny" / "results.csv") as f:
        dev, dev_spk = csv.DictReader(f)
    commit = json.loads((root / "exp" / "tiny" / "results.json").read_text()).get("commit")
    assert rows[2][0] == "tiny" and rows[2][2:7] == [dev[k] for k in ("US", "UK", "IND", "acc", "macro")]
    assert rows[2][7] == dev_spk["acc"] and rows[2][8] == "best.pt"
    assert rows[2][-1] == commit_of(root / "exp" / "tiny") and (rows[2][-1] == "n/a") == (not commit)


def test_bad_inputs_are_named(scored, tmp_path) -> None:
    root, data, _ = scored
    r = cli("accent.bin.score", ["--exp-dir", "exp/none", "--data", f"dev={data['dev']}"], root, check=False)
    assert r.returncode == 1 and "exp/none: no best.pt (has training finished?)" in r.stderr
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


def test_speaker_level_scores_sum_log_posteriors(scored) -> None:
    root, data, _ = scored
    exp = root / "exp" / "tiny"
    pred = read_predictions(exp / "decode_dev" / "predictions.tsv")
    utt2spk = read_mapping(data["dev"] / "utt2spk")
    assert read_mapping(exp / "decode_dev" / "utt2spk") == utt2spk
    # by hand: the argmax of the summed log-posteriors of each speaker's utterances
    sums: Dict[str, np.ndarray] = {}
    refs: Dict[str, str] = {}
    for u, ref, lp in zip(pred.utts, pred.refs, pred.log_posteriors):
        sums[utt2spk[u]] = sums.get(utt2spk[u], 0) + lp
        refs[utt2spk[u]] = ref
    correct = sum(pred.labels[int(np.argmax(v))] == refs[s] for s, v in sums.items())
    with open(exp / "results.csv") as f:
        spk = [r for r in csv.DictReader(f) if r["unit"] == "spk"]
    assert len(spk) == 1 and int(spk[0]["n"]) == len(sums) == len(set(utt2spk.values()))
    assert float(spk[0]["acc"]) == pytest.approx(100 * correct / len(sums), abs=0.005)
    md = (exp / "results.md").read_text()
    assert "| dev | spk  |" in md and "Checkpoint: `exp/tiny/best.pt`" in md
    assert "## per speaker" in (exp / "decode_dev" / "results.md").read_text()
    # no posterior rounded to zero: every log-posterior is finite and written with 8 digits
    assert np.isfinite(pred.log_posteriors).all()


def test_scoring_uses_the_averaged_checkpoint_and_results_md_merges(scored) -> None:
    root, data, _ = scored
    src, exp = root / "exp" / "tiny", root / "exp" / "tiny_avg"
    if exp.exists():
        shutil.rmtree(exp)
    shutil.copytree(src, exp, ignore=shutil.ignore_patterns("decode_*", "plots", "results.*"))
    cfg = yaml.safe_load((exp / "config.yaml").read_text())
    cfg["train"]["average_last"] = 2
    (exp / "config.yaml").write_text(yaml.safe_dump(cfg))
    torch.save(average_checkpoints(sorted(exp.glob("epoch_*.pt"))[-2:]), exp / "avg_2.pt")
    cli("accent.bin.score", ["--exp-dir", "exp/tiny_avg", "--data", f"dev={data['dev']}", "--no-plots"], root)
    # the checkpoint accent-id and export load
    assert experiment_checkpoint(exp) == exp / "avg_2.pt"
    assert (exp / "decode_dev_avg_2" / "predictions.tsv").is_file() and not (exp / "decode_dev").exists()
    assert "Checkpoint: `exp/tiny_avg/avg_2.pt`" in (exp / "results.md").read_text()
    # RESULTS.md: a later call with other experiments keeps the earlier rows
    out = root / "RESULTS_merge.md"
    cli("accent.bin.collect_results", ["--out", out.name, "exp/tiny"], root)
    cli("accent.bin.collect_results", ["--out", out.name, "exp/tiny_avg"], root)
    rows = {ln.strip("|").split("|")[0].strip(): [c.strip() for c in ln.strip("|").split("|")]
            for ln in out.read_text().splitlines() if ln.startswith("| tiny")}
    assert sorted(rows) == ["tiny", "tiny_avg"]
    assert rows["tiny"][-2] == "best.pt" and rows["tiny_avg"][-2] == "avg_2.pt"


def test_accent_id_one_decision_per_speaker(scored, tmp_path) -> None:
    root, _, _ = scored
    wavs = {f"spk{s}-u{i}": write_wav(tmp_path / f"spk{s}-u{i}.wav", 0.8 + 0.1 * i, seed=10 * s + i)
            for s in range(2) for i in range(3)}
    scp = tmp_path / "wav.scp"
    scp.write_text("".join(f"{u} {p}\n" for u, p in wavs.items()))
    utt2spk = tmp_path / "utt2spk"
    utt2spk.write_text("".join(f"{u} {u.split('-')[0]}\n" for u in wavs))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    run = [sys.executable, "-m", "accent.cli.accent_id", "--model", str(root / "exp" / "tiny"), "--json"]
    per = subprocess.run([*run, str(scp)], capture_output=True, text=True, env=env, timeout=300)
    grouped = subprocess.run([*run, "--utt2spk", str(utt2spk), str(scp)], capture_output=True, text=True,
                             env=env, timeout=300)
    assert per.returncode == 0 and grouped.returncode == 0, per.stderr + grouped.stderr
    results = json.loads(per.stdout)["results"]
    labels = json.loads(per.stdout)["labels"]
    groups = json.loads(grouped.stdout)["groups"]
    assert [g["id"] for g in groups] == ["spk0", "spk1"]
    for g in groups:
        mine = [r for r in results if r["id"].startswith(g["id"] + "-")]
        summed = np.sum([[np.log(r["posteriors"][a]) for a in labels] for r in mine], axis=0)
        assert g["accent"] == labels[int(np.argmax(summed))] and g["inputs"] == [r["id"] for r in mine]
        np.testing.assert_allclose([g["log_posterior_sums"][a] for a in labels], summed, rtol=1e-6)
    table = subprocess.run([*run[:-1], "--utt2spk", str(utt2spk), str(scp)], capture_output=True, text=True,
                           env=env, timeout=300)
    lines = table.stdout.splitlines()
    assert lines[0].split()[:2] == ["group", "accent"] and [ln.split()[0] for ln in lines[1:]] == ["spk0", "spk1"]
    # an input without a group is named
    utt2spk.write_text("spk0-u0 spk0\n")
    bad = subprocess.run([*run, "--utt2spk", str(utt2spk), str(scp)], capture_output=True, text=True, env=env,
                         timeout=300)
    assert bad.returncode == 2 and f"{utt2spk}: no line for input 'spk0-u1'" in bad.stderr
