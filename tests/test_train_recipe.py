"""egs/aesrc/run.sh stages 4-6 on tiny data: ASR pretraining, the accent experiments, the table,
scoring into RESULTS.md, and reruns that skip finished experiments."""

from __future__ import annotations

import json

import kaldiio
import numpy as np
import pytest
import yaml

from accent.data.kaldi_dir import read_mapping, write_data_dir
from accent.models.normalize import read_cmvn_stats
from accent.features.fbank import FbankConfig
from accent.training.checkpoint import load_checkpoint

from conftest import TINY_JASPER, make_corpus, recipe_copy, run_recipe

pytestmark = pytest.mark.slow  # run.sh stages 4-6


def test_stages_4_to_6(tmp_path) -> None:
    recipe = recipe_copy(tmp_path)
    make_corpus(recipe)  # data/{train,dev,libri_train,libri_dev,lang_phn} with features and CMVN
    # LibriSpeech IDs of their own (the tiny corpora share their audio), so the two combine
    libri = recipe / "data/libri_train"
    files = {n: {"L" + k: v for k, v in read_mapping(libri / n, allow_empty_value=True).items()}
             for n in ("feats.scp", "utt2num_frames", "text", "text.phn")}
    files["utt2spk"] = {"L" + k: "L" + v for k, v in read_mapping(libri / "utt2spk").items()}
    (libri / "utt2accent").unlink()
    write_data_dir(libri, files)
    # LibriSpeech statistics unlike AESRC's (the tiny corpora share their audio)
    libri_cmvn = recipe / "data/libri_train/cmvn.ark"
    stats = np.array(kaldiio.load_mat(str(libri_cmvn)))
    stats[0, :-1] *= 1.5
    kaldiio.save_mat(str(libri_cmvn), stats)
    tiny = recipe / "conf" / "tiny"
    tiny.mkdir()
    common = {"data": {"max_frames": 400}, "train": {"epochs": 1, "log_interval_steps": 0}, "seed": 3}
    (tiny / "asr.yaml").write_text(yaml.safe_dump({"task": "asr", "model": {"encoder": TINY_JASPER}, **common}))
    (tiny / "base.yaml").write_text(yaml.safe_dump(
        {"task": "accent", "asr_checkpoint": "exp/tiny_asr/best.pt", **common,
         "model": {"encoder": TINY_JASPER, "pooling": "stats", "embed_dim": 16, "head": "softmax"}}))
    (tiny / "asr_ft.yaml").write_text("base: asr.yaml\nasr_checkpoint: exp/tiny_asr/best.pt\n")
    (tiny / "scratch.yaml").write_text("base: base.yaml\n")
    (tiny / "mtl.yaml").write_text("base: base.yaml\nmethod: mtl\nmodel.ctc_weight: 0.3\n")
    args = ["--stage", "4", "--stop-stage", "6", "--asr-config", "conf/tiny/asr.yaml",
            "--asr-finetune-config", "conf/tiny/asr_ft.yaml",
            "--accent-configs", "conf/tiny/scratch.yaml conf/tiny/mtl.yaml", "--score-opts", "--max-embed-utts 40"]
    r = run_recipe(recipe, *args)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "Stage 4: exp/tiny_asr: best dev PER" in out
    for name in ("tiny_asr", "tiny_asr_ft", "tiny_scratch", "tiny_mtl"):
        assert (recipe / "exp" / name / ".done").is_file(), name
        assert (recipe / "exp" / name / "log" / "train.log").is_file()
    assert "initialised from exp/tiny_asr/best.pt: encoder + CTC head" in \
        (recipe / "exp/tiny_mtl/log/train.log").read_text()
    # the second step of stage 4 continued the AM on LibriSpeech + the accented training set
    combined = read_mapping(recipe / "data/libri_train_train/utt2spk")
    assert set(combined) == set(read_mapping(libri / "utt2spk")) | set(read_mapping(recipe / "data/train/utt2spk"))
    assert "continuing the training of exp/tiny_asr/best.pt" in (recipe / "exp/tiny_asr_ft/log/train.log").read_text()
    # the frozen-AM rule: a model initialised from the ASR checkpoint keeps its CMVN (LibriSpeech's),
    # a model from scratch uses the AESRC training set's; both record the FBank options
    asr, mtl, scratch = (load_checkpoint(recipe / f"exp/{n}/best.pt") for n in ("tiny_asr", "tiny_mtl", "tiny_scratch"))
    mean = {n: c["model"]["normalize.mean"].numpy() for n, c in (("asr", asr), ("mtl", mtl), ("scratch", scratch))}
    assert np.array_equal(mean["mtl"], mean["asr"])
    assert np.allclose(read_cmvn_stats(libri_cmvn)[0], mean["asr"])
    assert np.allclose(read_cmvn_stats(recipe / "data/train/cmvn.ark")[0], mean["scratch"])
    assert not np.allclose(mean["scratch"], mean["mtl"])
    for ckpt in (asr, mtl, scratch):
        assert ckpt["frontend"] == FbankConfig().to_dict()
    assert yaml.safe_load((recipe / "exp/tiny_mtl/fbank.yaml").read_text()) == FbankConfig().to_dict()
    table = out[out.index("dev accuracy (best epoch) per experiment"):].splitlines()[1:]
    assert table[0].split()[:3] == ["experiment", "dev", "metric"]
    for line, name in zip(table[1:3], ("tiny_scratch", "tiny_mtl")):
        acc = json.loads((recipe / "exp" / name / "results.json").read_text())["best_value"]
        assert line.split()[:3] == [f"exp/{name}", f"{100 * acc:.2f}%", "dev_acc"]
    # stage 6: one RESULTS.md row per experiment, its dev accuracy that of the best epoch
    results = (recipe / "RESULTS.md").read_text()
    for name in ("tiny_scratch", "tiny_mtl"):
        acc = json.loads((recipe / "exp" / name / "results.json").read_text())["best_value"]
        rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in results.splitlines()
                if line.startswith("|")]
        cells = next(r for r in rows if r[0] == name)
        row = " | ".join(cells)
        assert cells[1] == f"conf/tiny/{name[5:]}.yaml" and f"{100 * acc:.2f}" in cells, row
        assert (recipe / "exp" / name / "decode_dev" / "confusion.png").stat().st_size > 0
        assert (recipe / "exp" / name / "plots" / "train_curves.png").stat().st_size > 0
    # a rerun skips what is finished
    r = run_recipe(recipe, *args)
    assert r.returncode == 0
    assert r.stdout.count("is finished") == 4 and "accent training" not in r.stdout
