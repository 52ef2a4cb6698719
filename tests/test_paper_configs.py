"""Every row of the papers' tables trains end to end: each config under egs/aesrc/conf/{baseline,
sarnet,hybrid}/ and the stage-4 ASR configs resolve, build, initialise from their ASR
checkpoint (asr_init, mtl, hybrid), take a training step, score the dev set and write a checkpoint.

At reduced width so that the 55 experiments fit in CI: depth, integration, loss, margin, fusion,
method and λ stay as configured; only channel counts shrink (``narrow``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest
import torch

from accent.data.kaldi_dir import read_mapping
from accent.text.bpe import train_bpe
from accent.text.units import read_units
from accent.training import Trainer, deep_merge, experiment_name, load_checkpoint, load_config, resolve_config
from accent.training.config import starts_from_asr
from conftest import make_corpus

pytestmark = pytest.mark.slow  # every paper config trains

CONF = Path(__file__).resolve().parents[1] / "egs" / "aesrc" / "conf"
ASR_CONFIGS = sorted(CONF.glob("asr_*.yaml"))
ACCENT_CONFIGS = sorted(p for d in ("baseline", "sarnet", "hybrid") for p in (CONF / d).glob("*.yaml")
                        if p.name != "base.yaml")

# channel counts only; kernels, depth (repeat, num_layers, ResNet depth), heads and clusters stay
NARROW_ENCODERS = {
    "jasper": {"channels": [16] * 5, "prologue_channels": 16, "epilogue_channels": 16, "output_dim": 16},
    "crnn": {"channels": [4, 4, 8, 8], "dense_dim": 16, "gru_hidden": 8},
    "transformer": {"d_model": 16, "ff_dim": 32},
}


def narrow(cfg: Dict[str, Any]) -> Dict[str, Any]:
    """The same experiment with narrow layers, one batch per epoch and one epoch."""
    model = cfg["model"]
    over: Dict[str, Any] = {"model": {"encoder": NARROW_ENCODERS[model["encoder"]["name"]], "embed_dim": 16},
                            "data": {"max_frames": 100000, "num_workers": 0}, "train": {"epochs": 1}}
    if isinstance(model.get("pooling"), dict) and model["pooling"]["name"] == "transformer_aggregator":
        over["model"]["pooling"] = {"d_model": 16, "ff_dim": 32}
    if isinstance(model.get("reference_encoder"), dict):
        over["model"]["reference_encoder"] = NARROW_ENCODERS[model["reference_encoder"]["name"]]
    return resolve_config(deep_merge(cfg, over))


def train(config: Path, corpus: Dict[str, Path], workdir: Path, train_set: str, dev_set: str) -> Dict[str, Any]:
    cfg = narrow(load_config(config))
    exp = workdir / "exp" / experiment_name(config, CONF)
    asr = workdir / cfg["asr_checkpoint"] if starts_from_asr(cfg) else None
    lang = workdir / cfg["lang_dir"] if cfg["lang_dir"] else corpus["lang"]  # the recipe's data/lang_*
    if cfg["reference_checkpoint"]:
        cfg["reference_checkpoint"] = str(workdir / cfg["reference_checkpoint"])
    Trainer(cfg, exp, corpus[train_set], corpus[dev_set], lang_dir=lang, asr_checkpoint=asr,
            device="cpu").run()
    return json.loads((exp / "results.json").read_text())


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("paper_configs")


@pytest.fixture(scope="module")
def corpus(workdir) -> Dict[str, Path]:
    paths = make_corpus(workdir, spk_per_accent=1, utts_per_spk=2, dev_utts=1, seconds=(0.6, 0.9))
    # the BPE lang dir a config may name (a small vocabulary: the tiny corpus has few words)
    sentences = [t for d in ("train", "dev") for t in read_mapping(paths[d] / "text").values()]
    train_bpe(sentences * 3, workdir / "data" / "lang_bpe_300", vocab_size=16)
    return paths


@pytest.fixture(scope="module")
def asr_results(corpus, workdir) -> Dict[str, Dict[str, Any]]:
    return {p.stem: train(p, corpus, workdir, "libri_train", "libri_dev") for p in ASR_CONFIGS}


def test_there_is_a_config_for_every_table_row() -> None:
    names = {experiment_name(p, CONF) for p in ACCENT_CONFIGS}
    # AESRC baseline: Transformer 3/6/12 layers, from scratch and ASR-initialised
    assert {f"baseline_transformer_l{n}{s}" for n in (3, 6, 12) for s in ("", "_asr_init")} <= names
    # SAR-Net: softmax and three margin losses x three margins, integrations, with and without CTC
    for ctc in ("", "_noctc"):
        assert f"sarnet_softmax{ctc}" in names
        assert {f"sarnet_{loss}_m{m}{ctc}" for loss in ("cosface", "arcface", "circle") for m in (0.1, 0.2, 0.3)} <= names
        assert {f"sarnet_circle_m0.2_{i}{ctc}" for i in ("bigru", "netvlad", "ghostvlad")} <= names
    # hybrid: methods a-d, λ in {0.1, 0.2, 0.3}, three fusions
    assert {"hybrid_scratch", "hybrid_asr_init"} <= names
    assert {f"hybrid_mtl_l{x}" for x in (0.1, 0.2, 0.3)} <= names
    assert {f"hybrid_hybrid_{f}_l{x}" for f in ("add", "concat", "concat_ca") for x in (0.1, 0.2, 0.3)} <= names
    assert "hybrid_hybrid_concat_ca_l0.1_ft_am" in names  # trainable AM continued on accented speech
    assert "sarnet_circle_m0.2_bpe" in names  # the CTC branch on BPE pieces
    # the Jasper AM (LibriSpeech, then continued on LibriSpeech + AESRC) and the baselines' encoders
    assert {p.stem for p in ASR_CONFIGS} == {"asr_jasper", "asr_jasper_ft", *(f"asr_transformer_l{n}" for n in (3, 6, 12))}


def history(exp: Path) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in (exp / "train_log.jsonl").read_text().splitlines()]


def test_asr_configs_train(asr_results, corpus, workdir) -> None:
    ref_phones = sum(len(t.split()) for t in read_mapping(corpus["libri_dev"] / "text.phn").values())
    for name, res in asr_results.items():
        assert res["task"] == "asr" and res["epochs"] == 1, name
        # the PER of the epoch's dev scoring: a count of edit errors over the dev set's reference phones
        assert res["best_value"] == history(workdir / "exp" / name)[-1]["dev_per"], name
        errors = res["best_value"] * ref_phones
        assert errors == pytest.approx(round(errors), abs=1e-6) and errors >= 1, (name, res["best_value"])
    # the continued AM started from the LibriSpeech one: same CMVN, and its training log says so
    ckpts = {n: load_checkpoint(workdir / "exp" / n / "best.pt") for n in ("asr_jasper", "asr_jasper_ft")}
    for key in ("normalize.mean", "normalize.std"):
        assert torch.equal(ckpts["asr_jasper_ft"]["model"][key], ckpts["asr_jasper"]["model"][key])
    assert ckpts["asr_jasper_ft"]["config"]["asr_checkpoint"].endswith("exp/asr_jasper/best.pt")
    # and its training step moved the encoder away from that start
    start, trained = ckpts["asr_jasper"]["model"], ckpts["asr_jasper_ft"]["model"]
    assert any(not torch.equal(trained[k], start[k]) for k in start if k.startswith("encoder.") and
               start[k].is_floating_point())


@pytest.mark.parametrize("config", ACCENT_CONFIGS, ids=[experiment_name(p, CONF) for p in ACCENT_CONFIGS])
def test_accent_config_trains(config: Path, corpus, workdir, asr_results) -> None:
    res = train(config, corpus, workdir, "train", "dev")
    cfg = narrow(load_config(config))
    assert res["task"] == "accent" and res["method"] == cfg["method"] and res["epochs"] == 1
    exp = workdir / "exp" / experiment_name(config, CONF)
    # the accuracy of the epoch's dev scoring, on the 3 dev utterances: a multiple of 1/3
    assert res["best_value"] == history(exp)[-1]["dev_acc"]
    assert 3 * res["best_value"] == pytest.approx(round(3 * res["best_value"]), abs=1e-6), res["best_value"]
    ckpt = load_checkpoint(exp / "best.pt")
    state: Dict[str, torch.Tensor] = ckpt["model"]
    if starts_from_asr(cfg):  # the training step moved the trainable encoder away from its ASR start
        start = load_checkpoint(workdir / cfg["asr_checkpoint"])["model"]
        assert any(not torch.equal(state[k], start[k]) for k in start
                   if k.startswith("encoder.") and start[k].is_floating_point()), "encoder not trained"
    # what the config asks for is what was trained
    assert any(k.startswith("ctc_head.") for k in state) == (cfg["model"].get("ctc_weight", 0) > 0)
    assert any(k.startswith("reference_encoder.") for k in state) == (cfg["method"] == "hybrid")
    if cfg["model"].get("ctc_weight", 0) > 0:  # CTC on the units the config names: phones or BPE pieces
        lang = workdir / cfg["lang_dir"] if cfg["lang_dir"] else corpus["lang"]
        assert ckpt["units"] == read_units(lang / "units.txt")
        assert ("▁" in "".join(ckpt["units"])) == bool(cfg["lang_dir"])
    if cfg["method"] == "hybrid":
        # the reference AM is the (reference) ASR checkpoint's encoder, untouched by the training step
        asr = load_checkpoint(workdir / (cfg["reference_checkpoint"] or cfg["asr_checkpoint"]))["model"]
        ref: List[str] = [k for k in state if k.startswith("reference_encoder.")]
        for k in ref:
            assert torch.equal(state[k], asr["encoder." + k[len("reference_encoder."):]]), k
