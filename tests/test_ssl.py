"""The ssl encoder (Hugging Face WavLM / HuBERT / wav2vec 2.0) on waveform data, offline.

Every model is a tiny randomly initialised one (2 layers, width 32) written by ``save_pretrained``
into a temporary directory: nothing is downloaded, and the hub is switched off for the session.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers reads it: any hub access fails at once
os.environ["TRANSFORMERS_OFFLINE"] = "1"
transformers = pytest.importorskip("transformers", reason="the ssl encoder needs transformers: pip install -e '.[ssl]'")

from accent.models import ENCODERS  # noqa: E402
from accent.models.encoders.pretrained import set_training_step  # noqa: E402
from accent.training import ConfigError, Trainer, resolve_config  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def tiny_config(model_type: str = "wavlm", norm: str = "group") -> dict:
    """A 2-layer, 32-wide architecture of ``model_type`` (CNN norm ``group``: the base models; ``layer``: XLS-R)."""
    return {"model_type": model_type, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
            "intermediate_size": 64, "conv_dim": [32] * 7, "num_conv_pos_embeddings": 16,
            "num_conv_pos_embedding_groups": 4, "feat_extract_norm": norm, "do_stable_layer_norm": norm == "layer"}


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    """A tiny WavLM saved as a pretrained model directory (config.json + model.safetensors)."""
    torch.manual_seed(0)
    cfg = dict(tiny_config())
    config = transformers.AutoConfig.for_model(cfg.pop("model_type"), **cfg)
    path = tmp_path_factory.mktemp("ssl") / "tiny-wavlm"
    transformers.AutoModel.from_config(config).save_pretrained(path)
    return path


def padded(lengths, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(len(lengths), max(lengths), 1)
    for i, n in enumerate(lengths):
        x[i, :n, 0] = 0.1 * torch.randn(n, generator=g)
    return x, torch.tensor(lengths)


def test_the_toolkit_imports_without_transformers():
    code = ("import sys, accent.models, accent.training, accent.inference, accent.export; "
            "assert 'transformers' not in sys.modules, 'imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})


@pytest.mark.parametrize("model_type,norm", [("wavlm", "group"), ("hubert", "group"), ("wav2vec2", "group"),
                                             ("wav2vec2", "layer")])
def test_a_padded_batch_gives_what_each_utterance_gives_alone(model_type, norm):
    torch.manual_seed(1)
    enc = ENCODERS.build("ssl", 1, hf_config=tiny_config(model_type, norm)).eval()
    lengths = [16000, 9000, 5234]
    x, lens = padded(lengths)
    with torch.no_grad():
        batch, out_lens = enc(x, lens)
        assert out_lens.tolist() == enc.output_lengths(lens).tolist() == [49, 27, 16]
        for i, n in enumerate(lengths):
            alone, _ = enc(x[i:i + 1, :n], lens[i:i + 1])
            torch.testing.assert_close(batch[i, :out_lens[i]], alone[0], rtol=0, atol=1e-4)
            assert batch[i, out_lens[i]:].abs().max() == 0 if out_lens[i] < batch.size(1) else True
        if norm == "group":
            # why the first CNN layer's GroupNorm is replaced: over the padded time axis, it moves every frame
            enc._group_norm = None
            plain, _ = enc(x, lens)
            alone, _ = enc(x[2:3, :lengths[2]], lens[2:3])
            assert (plain[2, :16] - alone[0]).abs().max() > 0.1


def test_layer_weights_learn_and_a_frozen_model_gets_no_gradient():
    torch.manual_seed(2)
    x, lens = padded([8000, 6000])
    frozen = ENCODERS.build("ssl", 1, hf_config=tiny_config(), freeze=True).train()
    frames, _ = frozen(x, lens)
    # not a norm of the frames: the layers' outputs are layer-normalised, so their squares tie
    probe = torch.randn(frames.shape, generator=torch.Generator().manual_seed(4))
    (frames * probe).sum().backward()
    assert frozen.layer_weights.grad is not None and frozen.layer_weights.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in frozen.model.parameters())
    assert not frozen.model.training  # dropout and HF's time masking off while frozen

    tuned = ENCODERS.build("ssl", 1, hf_config=tiny_config(), freeze=False, layers=[1, 2]).train()
    frames, _ = tuned(x, lens)
    (frames * probe).sum().backward()
    assert tuned.layer_weights.grad.shape == (2,) and tuned.layer_weights.grad.abs().sum() > 0
    assert all(p.grad is None for p in tuned.model.feature_extractor.parameters())  # the CNN stays fixed
    assert tuned.model.encoder.layers[0].attention.k_proj.weight.grad.abs().sum() > 0


def test_fine_tuning_starts_after_its_warm_up_steps():
    torch.manual_seed(3)
    enc = ENCODERS.build("ssl", 1, hf_config=tiny_config(), freeze=False, unfreeze_after_steps=2).train()
    opt = torch.optim.SGD([p for p in enc.parameters() if p.requires_grad], lr=0.1)
    layer = enc.model.encoder.layers[1].feed_forward.output_dense.weight
    cnn = enc.model.feature_extractor.conv_layers[0].conv.weight
    start, cnn_start = layer.detach().clone(), cnn.detach().clone()
    x, lens = padded([6000, 6000], seed=3)
    for step in range(4):
        set_training_step(enc, step)
        opt.zero_grad()
        enc(x, lens)[0].pow(2).mean().backward()
        opt.step()
        assert torch.equal(layer, start) == (step < 2), step
        assert torch.equal(cnn, cnn_start)


def waveform_config(path: Path, **encoder) -> dict:
    return resolve_config({
        "task": "accent", "seed": 3,
        "data": {"features": "waveform", "num_workers": 0,
                 "crop": {"min_s": 1.0, "max_s": 1.5, "passes": 3.0, "batch_size": 8},
                 "augment": {"noise": {"prob": 0.5, "snr": [15, 20]}}},
        "model": {"encoder": {"name": "ssl", "path": str(path), **encoder},
                  "pooling": {"name": "asp", "bottleneck_dim": 8}, "embed_dim": 16, "head": "softmax"},
        "optim": {"name": "adamw", "lr": 5e-3, "scheduler": {"name": "warmup_cosine", "warmup_steps": 2}},
        "train": {"epochs": 3, "log_interval_steps": 0, "average_last": 2},
    })


def test_frozen_weights_stay_bit_identical_and_checkpoints_need_no_model_dir(tiny_dir, wav_corpus, tmp_path):  # noqa: F811
    torch.set_num_threads(1)
    model_dir = tmp_path / "model"
    shutil.copytree(tiny_dir, model_dir)
    Trainer(waveform_config(model_dir, freeze=True), tmp_path / "exp", wav_corpus["train"], wav_corpus["dev"]).run()
    pretrained = transformers.AutoModel.from_pretrained(tiny_dir, local_files_only=True).state_dict()
    for name in ("best.pt", "avg_2.pt"):
        state = torch.load(tmp_path / "exp" / name, weights_only=True)["model"]
        for k, v in pretrained.items():
            assert torch.equal(state[f"encoder.model.{k}"], v), (name, k)
        assert state["encoder.layer_weights"].abs().sum() > 0  # what trains does train
    cfg = torch.load(tmp_path / "exp" / "best.pt", weights_only=True)["config"]["model"]["encoder"]
    assert cfg["hf_config"]["model_type"] == "wavlm" and cfg["hf_config"]["layerdrop"] == 0.0
    # the checkpoint alone rebuilds the model: its directory may be gone
    shutil.rmtree(model_dir)
    from accent.models.build import load_model
    model, _ = load_model(tmp_path / "exp" / "best.pt")
    assert torch.equal(model.encoder.model.state_dict()["encoder.pos_conv_embed.conv.bias"],
                       pretrained["encoder.pos_conv_embed.conv.bias"])


def test_fine_tuned_model_trains_scores_and_exports(tiny_dir, wav_corpus, tmp_path):  # noqa: F811
    from accent import AccentRecognizer
    from accent.evaluation.predictions import decode
    from accent.export.exporter import export_torchscript
    from accent.export.graph import graph_from_checkpoint
    from accent.models.checkpoint import experiment_checkpoint
    from accent.models.build import load_model

    torch.set_num_threads(1)
    exp = tmp_path / "exp"
    res = Trainer(waveform_config(tiny_dir, freeze=False, lr_scale=0.5), exp, wav_corpus["train"],
                  wav_corpus["dev"]).run()
    hist = [json.loads(line) for line in (exp / "train_log.jsonl").read_text().splitlines()]
    assert hist[-1]["train_loss"] < 0.7 * hist[0]["train_loss"], hist
    assert hist[-1]["train_acc"] > 0.8, hist  # 3 classes: chance is 1/3
    assert res["best_value"] >= 2 / 3, hist  # 3 whole dev utterances, read from wav.scp
    # stage 6: the dev set's wav.scp, in batches of several lengths
    model, ckpt = load_model(exp / "best.pt")
    d = decode(model, ckpt, wav_corpus["dev"], torch.device("cpu"))
    assert sorted(d.utts) == sorted(l.split()[0] for l in (wav_corpus["dev"] / "wav.scp").read_text().splitlines())
    assert np.mean([r == h for r, h in zip(d.refs, d.hyps)]) == pytest.approx(res["best_value"])
    # stage 7 and accent-id: TorchScript takes samples, and gives the checkpoint's posteriors
    graph, meta = graph_from_checkpoint(experiment_checkpoint(exp))  # avg_2.pt, as accent-id --model exp
    assert meta["input"] == "waveform" and meta["input_dim"] == 1 and meta["min_frames"] == 4000
    ts = export_torchscript(graph, meta, tmp_path / "model.torchscript.pt")  # checked against PyTorch to 1e-4
    wavs = sorted((wav_corpus["dev"]).glob("*.wav"))
    a = list(AccentRecognizer.from_pretrained(exp).predict_many(wavs))
    b = list(AccentRecognizer.from_pretrained(ts).predict_many(wavs))
    for p, q in zip(a, b):
        assert p.ok and p.label == q.label
        assert max(abs(p.posteriors[k] - q.posteriors[k]) for k in p.posteriors) < 1e-4
    # the waveform-in export ((B, S) samples, as for FBank models) and block-wise streaming: the same
    from accent.export.exporter import export_model

    export_model(graph, meta, "torchscript_wav", tmp_path / "model_wav.torchscript.pt")
    wav_in = AccentRecognizer.from_pretrained(tmp_path / "model_wav.torchscript.pt")
    assert wav_in.input == "waveform" and wav_in.on_samples and wav_in.meta["input"]["min_samples"] == 4000
    streamed = AccentRecognizer.from_pretrained(exp, stream_seconds=0.1, block_seconds=0.3, chunk_seconds=0.6)
    chunked = list(AccentRecognizer.from_pretrained(exp, chunk_seconds=0.6).predict_many(wavs))
    for rec, want in ((wav_in, a), (streamed, chunked)):
        for p, q in zip(want, rec.predict_many(wavs)):
            assert q.ok and p.label == q.label and p.chunks == q.chunks
            assert max(abs(p.posteriors[k] - q.posteriors[k]) for k in p.posteriors) < 1e-4


@pytest.mark.slow
def test_onnx_export_of_a_waveform_model(tiny_dir, wav_corpus, tmp_path):  # noqa: F811
    """ONNX (torch.export + onnxscript) of a WavLM graph, checked against PyTorch (about a minute)."""
    from accent.export.exporter import export_onnx
    from accent.export.graph import graph_from_checkpoint
    from accent.inference.backends import OnnxBackend

    torch.set_num_threads(1)
    cfg = waveform_config(tiny_dir, freeze=True)
    cfg["train"]["epochs"] = 1
    Trainer(cfg, tmp_path / "exp", wav_corpus["train"], wav_corpus["dev"]).run()
    graph, meta = graph_from_checkpoint(tmp_path / "exp" / "best.pt")
    path = export_onnx(graph, meta, tmp_path / "model.onnx")
    x, lens = padded([12000, 7000], seed=5)
    post, _ = OnnxBackend(path)(x.numpy(), lens.numpy())
    with torch.no_grad():
        ref, _ = graph(x, lens)
    np.testing.assert_allclose(post, ref.numpy(), atol=1e-4)
    # stage 7's model_wav.onnx: (B, S) samples, the same function
    from accent.export.exporter import export_model

    export_model(graph, meta, "onnx_wav", tmp_path / "model_wav.onnx")
    post, _ = OnnxBackend(tmp_path / "model_wav.onnx")(x[..., 0].numpy(), lens.numpy())
    np.testing.assert_allclose(post, ref.numpy(), atol=1e-4)


def test_hf_config_keys_override_the_directorys_config(tiny_dir):
    """``path`` with a partial ``hf_config``: the directory's architecture, with those keys changed."""
    enc = ENCODERS.build("ssl", 1, path=str(tiny_dir), hf_config={"mask_time_prob": 0.0})
    assert enc.config.hidden_size == 32 and enc.config.num_hidden_layers == 2 and enc.config.mask_time_prob == 0.0
    assert enc.config.layerdrop == 0.0
    want = transformers.AutoModel.from_pretrained(tiny_dir, local_files_only=True).state_dict()
    got = enc.model.state_dict()
    assert set(want) - set(got) == {"masked_spec_embed"}  # no time masking: no mask embedding
    assert all(torch.equal(got[k], v) for k, v in want.items() if k in got)  # the directory's weights


def test_config_mistakes_are_named(tiny_dir, tmp_path):
    with pytest.raises(ConfigError, match="waveform takes data.cmvn: none"):
        resolve_config({"data": {"features": "waveform", "cmvn": "global"}, "model": {"encoder": {"name": "ssl"}}})
    with pytest.raises(ConfigError, match="Did you mean 'freeze'"):
        resolve_config({"data": {"features": "waveform"}, "model": {"encoder": {"name": "ssl", "freez": True}}})
    with pytest.raises(ValueError, match="set data.features: waveform"):
        ENCODERS.build("ssl", 40, path=str(tiny_dir))
    with pytest.raises(FileNotFoundError, match="huggingface-cli download"):
        ENCODERS.build("ssl", 1, path=str(tmp_path / "no-such-model"))
    with pytest.raises(ValueError, match="needs freeze: false"):
        ENCODERS.build("ssl", 1, path=str(tiny_dir), freeze=True, unfreeze_after_steps=10)
    with pytest.raises(ValueError, match="layerdrop must be 0"):
        ENCODERS.build("ssl", 1, hf_config={**tiny_config(), "layerdrop": 0.1})
    # a hub id with the hub switched off fails at once instead of reaching the network
    with pytest.raises(OSError):
        ENCODERS.build("ssl", 1, path="microsoft/wavlm-base-plus")


def test_the_benchmark_measures_the_demo_config():
    from accent.training.bench_ssl import SIZES, encoder_config
    from accent.training.config import load_config

    demo = load_config(REPO / "egs/aesrc/conf/demo/ssl_tiny.yaml")["model"]["encoder"]["hf_config"]
    assert encoder_config("tiny", "finetune")["hf_config"] == demo
    assert SIZES["base"] == {"model_type": "wavlm"}  # transformers' WavLM Base defaults


@pytest.mark.slow
def test_the_recipe_trains_scores_and_exports_the_demo_ssl_config(tmp_path):
    """run.sh stages 0-7 with conf/demo/ssl_tiny.yaml on a tiny demo corpus (several minutes)."""
    from conftest import recipe_copy
    from conftest import TINY_RECIPE as TINY, run_recipe

    recipe = recipe_copy(tmp_path)
    r = run_recipe(recipe, "--stage", "0", "--stop-stage", "7", *TINY, "--asr-config", "none",
                   "--accent-configs", "conf/demo/ssl_tiny.yaml",
                   "--train-opts", "--num-threads 1 --override train.epochs=1")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    exp = recipe / "exp/demo_ssl_tiny"
    dev = [line.split()[0] for line in (recipe / "data/dev/wav.scp").read_text().splitlines()]
    scored = [line.split("\t")[0] for line in (exp / "decode_dev/predictions.tsv").read_text().splitlines()[1:]]
    assert sorted(scored) == sorted(dev)
    assert (exp / "export/model.torchscript.pt").is_file() and (exp / "export/model.onnx").is_file()
