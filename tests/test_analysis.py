"""accent.analysis on tiny real models: the speaker probe, degraded transcripts (and training on
them, with the CTC head initialised from a smaller unit list), the channel-attention ratio."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Dict

import numpy as np
import pytest
import torch

from accent.analysis.channel_attention import attention_weights, plot_weights, summarize
from accent.analysis.degrade import (
    RANDOM, class_tokens, degrade, degraded_units, load_broad_classes, parse_variant, random_transcript,
    write_degraded_data_dir, write_degraded_lang_dir,
)
from accent.analysis.robustness import collect, robustness_table
from accent.analysis.speaker_probe import plot_curves, probe_table, speaker_probe, speaker_split, train_probe
from accent.data.kaldi_dir import DataDirError, read_mapping, validate_data_dir
from accent.models import AccentModel, AsrModel
from accent.text.g2p import PHONES, phone_units
from accent.text.units import read_units
from accent.training import Trainer, load_checkpoint, load_model, resolve_config
from accent.models.build import init_from_asr
from conftest import TINY_JASPER, make_corpus, tiny_accent

ROOT = Path(__file__).resolve().parents[1]
CLASS_MAP = ROOT / "local" / "broad_phone_classes.txt"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def classes() -> Dict[str, str]:
    return load_broad_classes(CLASS_MAP)


# ------------------------------------------------------------------------------------------------
# broad classes and degradation


def test_class_map_has_every_phone_exactly_once(classes) -> None:
    lines = [ln.split() for ln in CLASS_MAP.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert all(len(fields) == 2 for fields in lines)
    counts = Counter(phone for phone, _ in lines)
    assert set(counts) == set(PHONES) and set(counts.values()) == {1}
    assert set(classes) == set(PHONES)
    assert class_tokens(classes) == ["STOP", "AFFRICATE", "FRICATIVE", "NASAL", "LIQUID", "GLIDE", "VOWEL_FRONT",
                                     "VOWEL_CENTRAL", "VOWEL_BACK", "DIPHTHONG"]
    assert classes["JH"] == "AFFRICATE" and classes["OY"] == "DIPHTHONG" and classes["W"] == "GLIDE"
    # the recipe reaches it as local/ (egs/aesrc/local -> ../../local)
    assert (ROOT / "egs" / "aesrc" / "local" / "broad_phone_classes.txt").resolve() == CLASS_MAP.resolve()


def test_class_map_errors_name_the_file(tmp_path) -> None:
    text = CLASS_MAP.read_text()
    bad = tmp_path / "classes.txt"
    bad.write_text(text.replace("ZH FRICATIVE\n", ""))
    with pytest.raises(DataDirError, match=f"{bad}: phones without a class: ZH"):
        load_broad_classes(bad)
    bad.write_text(text + "S STOP\n")
    with pytest.raises(DataDirError, match="phone S is mapped twice"):
        load_broad_classes(bad)
    bad.write_text(text.replace("B STOP", "B T"))
    with pytest.raises(DataDirError, match=r"class token 'T' \(of B\) is a phone"):
        load_broad_classes(bad)


def test_degrade_theta_0_half_1_and_random(classes) -> None:
    phones = list(PHONES) * 30  # 1170 phones
    assert degrade(phones, 0.0, np.random.default_rng(0), classes) == phones
    assert degrade(phones, 1.0, np.random.default_rng(0), classes) == [classes[p] for p in phones]
    half = degrade(phones, 0.5, np.random.default_rng(3), classes)
    assert half == degrade(phones, 0.5, np.random.default_rng(3), classes)  # seeded
    assert half != degrade(phones, 0.5, np.random.default_rng(4), classes)
    replaced = [h != p for h, p in zip(half, phones)]
    assert 0.45 < np.mean(replaced) < 0.55
    assert all(h == classes[p] for h, p, r in zip(half, phones, replaced) if r)
    rand = random_transcript(len(phones), np.random.default_rng(0))
    assert len(rand) == len(phones) and set(rand) <= set(PHONES)
    assert len(set(rand)) == len(PHONES)  # uniform over all 39
    assert np.mean([a == b for a, b in zip(rand, phones)]) < 0.1
    assert parse_variant("0.5") == 0.5 and parse_variant("random") == RANDOM
    with pytest.raises(ValueError, match="theta must be in"):
        parse_variant("1.5")


# ------------------------------------------------------------------------------------------------
# tiny models: an ASR, a hybrid trained on degraded transcripts, a scratch model


@pytest.fixture(scope="module")
def trained(tmp_path_factory, classes):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("analysis")
    corpus = make_corpus(root)
    data = corpus["train"].parent
    asr_cfg = resolve_config({"task": "asr", "model": {"encoder": dict(TINY_JASPER)}, "data": {"max_frames": 400},
                              "optim": {"lr": 3e-3}, "train": {"epochs": 1, "log_interval_steps": 0}})
    Trainer(asr_cfg, root / "exp" / "asr", data / "libri_train", data / "libri_dev", lang_dir=corpus["lang"],
            device="cpu").run()
    degraded = data / "train_theta1"
    summary = write_degraded_data_dir(corpus["train"], degraded, 1.0, classes, seed=0)
    lang = write_degraded_lang_dir(data / "lang_phn_theta1", classes)
    hyb_cfg = resolve_config(tiny_accent(method="hybrid", train__epochs=1, model__ctc_weight=0.2,
                                         model__reference_encoder="same", model__fusion="concat_ca"))
    Trainer(hyb_cfg, root / "exp" / "hybrid", degraded, corpus["dev"], lang_dir=lang,
            asr_checkpoint=root / "exp" / "asr" / "best.pt", device="cpu").run()
    Trainer(resolve_config(tiny_accent(train__epochs=1)), root / "exp" / "scratch", corpus["train"], corpus["dev"],
            device="cpu").run()
    return {"root": root, "corpus": corpus, "degraded": degraded, "lang": lang, "summary": summary}


def test_degraded_data_dir_and_lang_dir_are_valid_and_train(trained, classes) -> None:
    src, dst = trained["corpus"]["train"], trained["degraded"]
    assert validate_data_dir(dst, require=("utt2spk", "spk2utt", "feats.scp", "text.phn")) == 18
    orig, new = read_mapping(src / "text.phn"), read_mapping(dst / "text.phn")
    assert orig.keys() == new.keys()
    for utt in orig:
        assert new[utt].split() == [classes[p] for p in orig[utt].split()]
    assert trained["summary"].changed == trained["summary"].phones == sum(len(t.split()) for t in orig.values())
    for name in ("feats.scp", "utt2spk", "utt2accent", "accents", "cmvn.ark", "conf/fbank.yaml"):
        assert (dst / name).read_bytes() == (src / name).read_bytes(), name
    assert json.loads((dst / "degrade.json").read_text())["variant"] == 1.0
    assert not dst.with_name(dst.name + ".tmp").exists()
    units = read_units(trained["lang"] / "units.txt")
    assert units == degraded_units(classes) and units[:40] == phone_units() and len(units) == 50
    # the hybrid trained one epoch on them, with the ASR's 40 CTC rows and 10 new ones
    exp = trained["root"] / "exp" / "hybrid"
    rec = json.loads((exp / "train_log.jsonl").read_text().splitlines()[-1])
    assert np.isfinite(rec["train_ctc_loss"]) and "dev_per" in rec  # dev keeps its real phones
    assert load_checkpoint(exp / "best.pt")["units"] == units


def test_degraded_copy_is_deterministic_and_rejects_unknown_phones(trained, classes, tmp_path) -> None:
    src = trained["corpus"]["train"]
    a = write_degraded_data_dir(src, tmp_path / "a", 0.5, classes, seed=7)
    write_degraded_data_dir(src, tmp_path / "b", 0.5, classes, seed=7)
    assert (tmp_path / "a" / "text.phn").read_text() == (tmp_path / "b" / "text.phn").read_text()
    assert 0 < a.changed < a.phones
    write_degraded_data_dir(src, tmp_path / "r", RANDOM, classes, seed=7)
    orig, rand = read_mapping(src / "text.phn"), read_mapping(tmp_path / "r" / "text.phn")
    assert all(len(rand[u].split()) == len(orig[u].split()) for u in orig)
    assert rand != orig
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("feats.scp", "utt2spk", "spk2utt"):
        (bad / name).write_bytes((src / name).read_bytes())
    utt = next(iter(orig))
    (bad / "text.phn").write_text(f"{utt} AX B\n")
    with pytest.raises(DataDirError, match=f"{bad / 'text.phn'}: phones without a broad class: AX"):
        write_degraded_data_dir(bad, tmp_path / "out", 0.5, classes)
    assert not (tmp_path / "out").exists()


def test_init_from_asr_copies_the_shared_rows_of_a_larger_unit_list(classes, caplog) -> None:
    torch.manual_seed(0)
    asr = AsrModel.from_config({"encoder": dict(TINY_JASPER)}, 40, len(phone_units()))
    ckpt = {"task": "asr", "units": phone_units(), "model": asr.state_dict()}
    units = degraded_units(classes)
    cfg = {"encoder": dict(TINY_JASPER), "pooling": "stats", "embed_dim": 16, "ctc_weight": 0.1}
    model = AccentModel.from_config(cfg, 40, 3, len(units))
    before = model.ctc_head.linear.weight.detach().clone()
    with caplog.at_level(logging.INFO, logger="accent.models.build"):
        done = init_from_asr(model, ckpt, "mtl", units, source="asr.pt")
    assert done["ctc_head"] == 40
    assert "our 10 extra units (STOP AFFRICATE" in caplog.text
    w, b = model.ctc_head.linear.weight, model.ctc_head.linear.bias
    assert torch.equal(w[:40], asr.ctc_head.linear.weight) and torch.equal(b[:40], asr.ctc_head.linear.bias)
    assert torch.equal(w[40:], before[40:])  # the class tokens' rows keep their random init
    # a list that does not start with the ASR's: nothing copied
    other = AccentModel.from_config(cfg, 40, 3, len(units))
    kept = other.ctc_head.linear.weight.detach().clone()
    shuffled = [units[0], *reversed(units[1:])]
    assert init_from_asr(other, ckpt, "mtl", shuffled, source="asr.pt")["ctc_head"] is False
    assert torch.equal(other.ctc_head.linear.weight, kept)


# ------------------------------------------------------------------------------------------------
# speaker probe


def test_speaker_split_puts_every_speaker_on_both_sides() -> None:
    utt2spk = {f"S{s}-{i:02d}": f"S{s}" for s in range(5) for i in range(10)}
    utt2spk["LONE-00"] = "LONE"
    train, valid = speaker_split(utt2spk, 0.2, seed=1)
    assert not set(train) & set(valid) and len(valid) == 10 and len(train) == 40  # LONE left out
    for s in range(5):
        assert sum(u.startswith(f"S{s}-") for u in valid) == 2
    assert (train, valid) == speaker_split(utt2spk, 0.2, seed=1)
    assert valid != speaker_split(utt2spk, 0.2, seed=2)[1]


def test_probe_learns_separable_speakers() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 8)) * 3
    y = np.repeat(np.arange(4), 30)
    x = centres[y] + rng.normal(size=(120, 8)) * 0.3
    hist = train_probe(x[::2], y[::2], x[1::2], y[1::2], 4, epochs=30, lr=1e-2, batch_size=16)
    assert [r["epoch"] for r in hist] == list(range(1, 31))
    assert hist[-1]["valid_acc"] == 1.0 and hist[0]["train_loss"] > hist[-1]["train_loss"]
    noise = train_probe(rng.normal(size=(60, 8)), y[::2], rng.normal(size=(60, 8)), y[1::2], 4, epochs=30)
    assert noise[-1]["valid_acc"] < 0.6


def test_speaker_probe_on_frozen_models(trained, tmp_path) -> None:
    exp = trained["root"] / "exp"
    models = {"scratch": exp / "scratch" / "best.pt", "hybrid": exp / "hybrid" / "best.pt"}
    before = load_checkpoint(models["scratch"])["model"]
    result = speaker_probe(models, trained["corpus"]["train"], epochs=4, seed=0)
    assert result["split"] == {"speakers": 6, "train_utts": 12, "valid_utts": 6, "valid_fraction": 0.2, "seed": 0,
                               "chance": pytest.approx(1 / 6)}
    for name in models:
        hist = result["models"][name]["history"]
        assert [r["epoch"] for r in hist] == [1, 2, 3, 4]
        # the probe learns (its loss on the training utterances falls) and is scored on the 6 held out
        assert hist[-1]["train_loss"] < hist[0]["train_loss"], hist
        assert all(round(6 * r["valid_acc"], 6) == int(round(6 * r["valid_acc"])) for r in hist), hist
        assert result["models"][name]["embed_dim"] == 16
    # the models themselves are untouched
    after = load_checkpoint(models["scratch"])["model"]
    assert all(torch.equal(before[k], after[k]) for k in before)
    table = probe_table(result)
    assert table.splitlines()[0] == "| epoch | scratch | hybrid |" and len(table.splitlines()) == 2 + 4 + 2
    png = plot_curves(result, tmp_path / "curves.png")
    assert png.read_bytes()[:8] == PNG_MAGIC


# ------------------------------------------------------------------------------------------------
# channel attention


def test_channel_attention_ratio_and_plot(trained, tmp_path) -> None:
    ckpt = trained["root"] / "exp" / "hybrid" / "best.pt"
    dev = trained["corpus"]["dev"]
    att = attention_weights(ckpt, dev)
    w = att["weights"]
    assert w.shape == (6, 32) and att["ref_dim"] == 16 and att["dim"] == 16
    assert ((w > 0) & (w < 1)).all()
    # batched (padded) weights equal the model's own ratio on each utterance alone
    from accent.evaluation.predictions import model_batches

    model, meta = load_model(ckpt)
    alone = {}
    for batch in model_batches(meta, dev, "cpu", max_frames=1):
        assert len(batch["utts"]) == 1
        model.embed(batch["feats"], batch["lengths"])
        alone[batch["utts"][0]] = float(model.fusion.reference_ratio()[0])
    batched = dict(zip(att["utts"], w[:, :16].sum(1) / w[:, 16:].sum(1)))
    assert batched.keys() == alone.keys()
    for utt in alone:
        assert batched[utt] == pytest.approx(alone[utt], rel=1e-4)
    s = summarize(w, 16)
    assert s["ratio"] == pytest.approx(w[:, :16].sum() / w[:, 16:].sum())
    assert s["utterance_ratio_mean"] == pytest.approx(np.mean(list(alone.values())), rel=1e-4)
    assert len(s["mean_weights"]) == 32
    assert plot_weights(s, tmp_path / "w.png").read_bytes()[:8] == PNG_MAGIC
    with pytest.raises(ValueError, match="needs a concat_ca hybrid"):
        attention_weights(trained["root"] / "exp" / "scratch" / "best.pt", dev)


# ------------------------------------------------------------------------------------------------
# robustness table and entry points


def test_robustness_table(tmp_path) -> None:
    for name, value in (("theta0_mtl", 0.8), ("theta0_hybrid", 0.85), ("random_hybrid", 0.5)):
        (tmp_path / f"robust_{name}").mkdir()
        (tmp_path / f"robust_{name}" / "results.json").write_text(json.dumps({"best_value": value}))
    table = robustness_table(collect(tmp_path)).splitlines()
    assert table[0] == "| transcripts | mtl | hybrid |"
    assert table[2:] == ["| θ = 0 | 80.00 | 85.00 |", "| θ = 0.5 | - | - |", "| θ = 1 | - | - |",
                         "| random | - | 50.00 |"]


def test_degrade_cli_and_recipe_syntax(trained, tmp_path) -> None:
    cmd = [sys.executable, "-m", "accent.bin.degrade_transcripts", "--classes", str(CLASS_MAP)]
    src = str(trained["corpus"]["train"])
    r = subprocess.run([*cmd, "--variant", "2", src, str(tmp_path / "d"), str(tmp_path / "l")],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "theta must be in [0, 1]" in r.stderr
    r = subprocess.run([*cmd, "--variant", "random", "--seed", "3", src, str(tmp_path / "d"), str(tmp_path / "l")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "l" / "units.txt").is_file() and (tmp_path / "d" / "text.phn").is_file()
    assert subprocess.run(["bash", "-n", str(ROOT / "egs" / "aesrc" / "run_analysis.sh")]).returncode == 0
