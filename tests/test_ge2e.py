"""The ``ge2e`` encoder: Resemblyzer's pretrained GE2E speaker encoder on waveforms, compared with
librosa (its mel front end) and with Resemblyzer's network as its ``VoiceEncoder`` builds it
(``nn.LSTM(40, 256, 3)`` + ``Linear``, the package's own ``pretrained.pt``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import accent_signal

librosa = pytest.importorskip("librosa", reason="the ge2e encoder needs accent[ge2e]")

from accent.models import ENCODERS  # noqa: E402
from accent.models.encoders.ge2e import resemblyzer_weights  # noqa: E402
from accent.models.encoders.pretrained import set_training_step  # noqa: E402
from accent.training import Trainer, resolve_config  # noqa: E402


@pytest.fixture(scope="module")
def encoder():
    return ENCODERS.build("ge2e", 1).eval()


def signal(seconds: float, seed: int, gain: float = 1.0) -> torch.Tensor:
    return torch.from_numpy(gain * accent_signal(seed % 3, seconds, seed)).float()


def test_mel_front_end_is_librosas(encoder):
    for n in (16000, 16001, 23999, 400, 150):  # frame edges and utterances shorter than a window
        wav = signal(n / 16000, n)
        ref = librosa.feature.melspectrogram(y=wav.numpy(), sr=16000, n_fft=400, hop_length=160, n_mels=40).T
        ours = encoder.mel_power(wav[None])[0].numpy()
        assert ours.shape == ref.shape == (1 + n // 160, 40)
        np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5 * ref.max())


def test_pretrained_network_is_resemblyzers(encoder):
    """The embedding of 1.6 s (Resemblyzer's partial utterance) equals VoiceEncoder's network's."""
    state = torch.load(resemblyzer_weights(), map_location="cpu", weights_only=True)["model_state"]
    lstm, linear = torch.nn.LSTM(40, 256, 3, batch_first=True), torch.nn.Linear(256, 256)
    lstm.load_state_dict({k[len("lstm."):]: v for k, v in state.items() if k.startswith("lstm.")})
    linear.load_state_dict({k[len("linear."):]: v for k, v in state.items() if k.startswith("linear.")})
    mels = encoder.mel_power(signal(1.6, 4)[None])[:, :160]
    with torch.no_grad():
        _, (hidden, _) = lstm(mels)
        want = torch.relu(linear(hidden[-1]))
        encoder.layer_weights.zero_()
        x = mels
        for layer in encoder.lstm:
            x, _ = layer(x)
        got = torch.relu(encoder.linear(x[:, -1]))
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    assert want.abs().sum() > 0


def test_a_padded_batch_gives_what_each_utterance_gives_alone(encoder):
    lengths = [24000, 9000, 16160]
    x = torch.zeros(3, max(lengths), 1)
    for i, n in enumerate(lengths):
        x[i, :n, 0] = signal(n / 16000, i, gain=0.05 if i == 1 else 1.0)
    with torch.no_grad():
        frames, out = encoder(x, torch.tensor(lengths))
        assert frames.shape == (3, 1 + max(lengths) // 160, 256) and out.tolist() == [1 + n // 160 for n in lengths]
        for i, n in enumerate(lengths):
            alone, _ = encoder(x[i:i + 1, :n], torch.tensor([n]))
            torch.testing.assert_close(frames[i, :out[i]], alone[0], rtol=1e-4, atol=1e-5)
            assert frames[i, out[i]:].abs().sum() == 0


def test_quiet_input_is_raised_to_the_same_level_and_loud_input_is_left(encoder):
    x = signal(1.0, 7)
    with torch.no_grad():
        quiet = [encoder(g * x[None], torch.tensor([16000]))[0] for g in (0.001, 0.004)]
        loud = [encoder(g * x[None], torch.tensor([16000]))[0] for g in (1.0, 0.5)]
    torch.testing.assert_close(quiet[0], quiet[1], rtol=1e-4, atol=1e-5)
    assert (loud[0] - loud[1]).abs().max() > 1e-3  # above -30 dBFS the gain is kept (raise only)


def test_frozen_network_gets_no_gradient_and_fine_tuning_starts_after_its_warm_up():
    frozen = ENCODERS.build("ge2e", 1).train()
    x, lens = signal(1.0, 1)[None], torch.tensor([16000])
    frozen(x, lens)[0].pow(2).mean().backward()
    assert frozen.layer_weights.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in frozen.lstm.parameters())

    tuned = ENCODERS.build("ge2e", 1, freeze=False, unfreeze_after_steps=2, lr_scale=0.1).train()
    assert all(m.lr_scale == 0.1 for m in (*tuned.lstm, tuned.linear))
    opt = torch.optim.SGD([p for p in tuned.parameters() if p.requires_grad], lr=0.1)
    weight = tuned.lstm[0].weight_ih_l0
    start = weight.detach().clone()
    for step in range(4):
        set_training_step(tuned, step)
        opt.zero_grad()
        tuned(x, lens)[0].pow(2).mean().backward()
        opt.step()
        assert torch.equal(weight, start) == (step < 2), step


def test_weights_of_another_file_are_checked(tmp_path):
    bad = tmp_path / "other.pt"
    torch.save({"model_state": {"lstm.weight_ih_l0": torch.zeros(3)}}, bad)
    with pytest.raises(ValueError, match="other.pt: not a GE2E checkpoint"):
        ENCODERS.build("ge2e", 1, weights=str(bad))
    with pytest.raises(FileNotFoundError, match="missing.pt: no such file"):
        ENCODERS.build("ge2e", 1, weights=str(tmp_path / "missing.pt"))
    with pytest.raises(ValueError, match="set data.features: waveform"):
        ENCODERS.build("ge2e", 80)


@pytest.mark.slow
def test_trains_scores_and_exports_from_its_checkpoint_alone(wav_corpus, tmp_path):
    """Frozen GE2E + ASP on waveform crops: it learns, the checkpoint keeps the pretrained weights
    bit-identical and rebuilds without Resemblyzer's file, and the ONNX file scores as it."""
    from accent.export.exporter import export_onnx
    from accent.export.graph import graph_from_checkpoint
    from accent.inference.backends import OnnxBackend
    from accent.models.build import load_model

    torch.set_num_threads(1)
    cfg = resolve_config({
        "task": "accent", "seed": 3,
        "data": {"features": "waveform", "cmvn": "none", "num_workers": 0,
                 "crop": {"min_s": 1.0, "max_s": 1.5, "passes": 2.0, "batch_size": 8}},
        "model": {"encoder": {"name": "ge2e", "freeze": True}, "pooling": {"name": "asp", "bottleneck_dim": 16},
                  "embed_dim": 16, "head": "softmax"},
        "optim": {"name": "adamw", "lr": 1e-2, "scheduler": {"name": "warmup_cosine", "warmup_steps": 2}},
        "train": {"epochs": 3, "log_interval_steps": 0},
    })
    res = Trainer(cfg, tmp_path / "exp", wav_corpus["train"], wav_corpus["dev"]).run()
    assert res["best_value"] >= 2 / 3  # 3 accents, 3 whole dev utterances
    pretrained = ENCODERS.build("ge2e", 1).state_dict()
    model, _ = load_model(tmp_path / "exp" / "best.pt")
    state = model.encoder.state_dict()
    assert all(torch.equal(state[k], v) for k, v in pretrained.items() if k != "layer_weights")
    graph, meta = graph_from_checkpoint(tmp_path / "exp" / "best.pt")
    path = export_onnx(graph, meta, tmp_path / "model.onnx")  # checked to 1e-4 on voiced bursts
    x = torch.zeros(2, 20000, 1)
    x[0, :, 0], x[1, :12000, 0] = signal(20000 / 16000, 1), signal(12000 / 16000, 2)
    lens = torch.tensor([20000, 12000])
    post, _ = OnnxBackend(path)(x.numpy(), lens.numpy())
    with torch.no_grad():
        ref, _ = graph(x, lens)
    np.testing.assert_allclose(post, ref.numpy(), atol=1e-4)


@pytest.mark.parametrize("name", ["asp", "frozen_asp"])
def test_shipped_configs_build(name):
    from accent.models.build import build_model
    from accent.training.config import load_config

    from conftest import REPO

    cfg = resolve_config(load_config(REPO / "egs/aesrc/conf/ge2e" / f"{name}.yaml"))
    assert cfg["data"]["features"] == "waveform" and cfg["model"]["encoder"]["name"] == "ge2e"
    model = build_model(cfg, 1, ["AR", "ES", "FR", "NL", "US"], None)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    lstm = sum(p.numel() for p in model.encoder.lstm.parameters())
    assert (trainable < 0.5e6) == (name == "frozen_asp") and lstm > 1.3e6
