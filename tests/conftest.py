"""Shared fixtures, and the helpers of tests/helpers/ re-exported: a test module imports what it
shares with others from here (``from conftest import make_corpus``), never from another test module."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

import pytest
import soundfile as sf

from accent.data.kaldi_dir import write_mapping

from helpers.audio import accent_signal, tone, wav_bytes, write_wav
from helpers.commands import REPO, egs_copy, recipe_copy, run_egs, run_recipe, train_cli
from helpers.configs import (
    EXPORT_CMVN, EXPORT_MODELS, TINY_JASPER, TINY_RECIPE, TINY_TRANSFORMER, ddp_config, tiny_accent, write_config,
)
from helpers.corpora import ACCENTS, make_aesrc, make_corpus, make_feats_dir, make_librispeech
from helpers.files import damage
from helpers.processes import process_alive, processes_in, wait_for
from helpers.slurm_cluster import SlurmCluster, unavailable_reason

__all__ = [
    "ACCENTS", "EXPORT_CMVN", "EXPORT_MODELS", "REPO", "TINY_JASPER", "TINY_TRANSFORMER", "SlurmCluster",
    "accent_signal", "damage", "ddp_config", "make_aesrc", "make_corpus", "make_feats_dir", "make_librispeech",
    "process_alive", "processes_in", "recipe_copy", "run_recipe", "tiny_accent", "tone", "train_cli",
    "unavailable_reason", "wait_for", "wav_bytes", "write_config", "write_wav", "egs_copy", "run_egs",
    "TINY_RECIPE", "WAV_FAMILIES", "WAV_FORMATS",
]


@pytest.fixture
def small_aesrc(tmp_path: Path) -> Path:
    return make_aesrc(
        tmp_path / "aesrc",
        {
            "American English Speech Data": ["G00007", "G00100"],
            "Indian English Speech Data": ["G0760", "G00200"],
            "Korean Speaking English Speech Data": ["G00025", "G00300"],
            "British English Speech Data": ["G00025", "G00400"],
        },
    )


@pytest.fixture
def dev_list(tmp_path: Path) -> Path:
    path = tmp_path / "dev_spk.list"
    path.write_text("# dev speakers\nUS G00007\nIND G0760\nKR G00300\nUK G00025\n")
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Dict[str, Path]:
    """``make_corpus`` with its defaults, one per test module."""
    return make_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> Dict[str, Path]:
    """encoder family -> experiment dir (best.pt) with model.torchscript.pt and model.onnx in export/:
    the EXPORT_MODELS trained for real, for one epoch (the hybrid one on a phone-CTC reference AM)."""
    import torch

    from accent.export import FILENAMES, export_onnx, export_torchscript, graph_from_checkpoint
    from accent.training import Trainer, resolve_config

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("export")
    data = make_corpus(root)
    exps = {}
    # the hybrid model's reference AM: a phone-CTC ASR model (stage 4)
    asr_cfg = {"task": "asr", "model": {"encoder": dict(TINY_JASPER)}, "data": {"max_frames": 400},
               "train": {"epochs": 1, "log_interval_steps": 0}}
    asr = root / "exp" / "asr"
    Trainer(resolve_config(asr_cfg), asr, data["libri_train"], data["libri_dev"], lang_dir=data["lang"],
            device="cpu").run()
    for name, model in EXPORT_MODELS.items():
        cfg = tiny_accent(train__epochs=1, data__cmvn=EXPORT_CMVN[name])
        cfg["model"] = {**model, "embed_dim": 16}
        if "reference_encoder" in model:
            cfg.update(method="hybrid", asr_checkpoint=str(asr / "best.pt"))
            cfg["model"]["ctc_weight"] = 0.2
        exp = root / "exp" / name
        Trainer(resolve_config(cfg), exp, data["train"], data["dev"], lang_dir=data["lang"], device="cpu").run()
        graph, meta = graph_from_checkpoint(exp / "best.pt")
        (exp / "export").mkdir()
        export_torchscript(graph, meta, exp / "export" / FILENAMES["torchscript"])
        export_onnx(graph, meta, exp / "export" / FILENAMES["onnx"])
        exps[name] = exp
    return exps


WAV_FORMATS = ("torchscript_wav", "onnx_wav")
WAV_FAMILIES = ("crnn", "transformer")  # utterance and global CMVN


@pytest.fixture(scope="session")
def wav_exports(trained) -> Dict[str, Path]:
    """encoder family -> experiment dir of ``trained`` whose export/ also holds the waveform-in files
    (model_wav.torchscript.pt, model_wav.onnx: FBank and CMVN inside), one family per CMVN mode."""
    from accent.export import FILENAMES, export_model, graph_from_checkpoint

    for name in WAV_FAMILIES:
        graph, meta = graph_from_checkpoint(trained[name] / "best.pt")
        for fmt in WAV_FORMATS:
            export_model(graph, meta, fmt, trained[name] / "export" / FILENAMES[fmt])
    return {name: trained[name] for name in WAV_FAMILIES}


@pytest.fixture(scope="module")
def wav_corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("crops")
    train, dev = {}, {}
    seed = 0
    for a, acc in enumerate(ACCENTS):
        for i in range(6):
            seed += 1
            (dev if i == 5 else train)[f"{acc}-S{a}-{i:03d}"] = (a, 2.5, seed)
    dirs = {}
    for name, utts in (("train", train), ("dev", dev)):
        d = make_feats_dir(root / name, utts)
        wavs, durs = {}, {}
        for utt, (acc, sec, s) in utts.items():
            path = d / f"{utt}.wav"
            sf.write(path, accent_signal(acc, sec, s), 16000, subtype="PCM_16")
            wavs[utt], durs[utt] = str(path), f"{sec:.3f}"
        write_mapping(d / "wav.scp", wavs)
        write_mapping(d / "utt2dur", durs)
        dirs[name] = d
    return dirs
