"""On-the-fly training data: waveform augmentation, random crops, and a trainer run on them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict

import numpy as np
import pytest
import soundfile as sf
import torch

from accent.data.kaldi_dir import write_mapping
from accent.dataset.augment import RirBank, WaveAugment, add_noise, coloured_noise, speed_perturb
from accent.dataset.crops import CropBatchSampler, CropDataset, crop_config
from accent.features.fbank import FbankConfig, compute_fbank
from accent.training import Trainer, resolve_config
from conftest import ACCENTS, accent_signal

SR = 16000


def power_db(x: np.ndarray) -> float:
    return 10 * np.log10(np.mean(np.square(x, dtype=np.float64)))


@pytest.mark.parametrize("snr", [-5.0, 0.0, 7.5, 20.0])
def test_add_noise_gives_the_asked_snr(snr):
    rng = np.random.default_rng(0)
    x = accent_signal(1, 1.0, 3).astype(np.float32)
    n = coloured_noise(len(x), 1.0, rng)
    y = add_noise(x, n, snr)
    assert power_db(x) - power_db(y - x) == pytest.approx(snr, abs=1e-3)


def test_coloured_noise_slopes():
    rng = np.random.default_rng(1)

    def low_high_ratio(beta):
        p = np.abs(np.fft.rfft(coloured_noise(SR * 2, beta, rng))) ** 2
        return p[1:len(p) // 8].mean() / p[len(p) // 2:].mean()

    white, pink, brown = (low_high_ratio(b) for b in (0.0, 1.0, 2.0))
    assert 0.7 < white < 1.4 < pink < brown
    assert coloured_noise(1000, 2.0, rng).std() == pytest.approx(1.0, rel=1e-3)


def test_speed_perturb_changes_length_and_pitch():
    t = np.arange(SR) / SR
    x = np.sin(2 * np.pi * 200 * t).astype(np.float32)
    y = speed_perturb(x, 1.1)
    assert len(y) == pytest.approx(len(x) / 1.1, abs=2)
    peak = np.argmax(np.abs(np.fft.rfft(y))) * SR / len(y)
    assert peak == pytest.approx(220, abs=3)  # faster and higher, as sox speed


def test_rir_bank_is_seeded_normalised_and_aligned():
    a, b = RirBank(SR, num_rirs=3, seed=5), RirBank(SR, num_rirs=3, seed=5)
    for i in range(3):
        np.testing.assert_array_equal(a[i], b[i])
        assert np.sum(a[i].astype(np.float64) ** 2) == pytest.approx(1.0, rel=1e-4)
        assert np.argmax(np.abs(a[i])) <= int(0.001 * SR) + 1  # the direct path stays at the start
    assert not np.array_equal(a[0], RirBank(SR, num_rirs=3, seed=6)[0])


def test_wave_augment_noise_within_its_snr_range_and_babble_from_the_batch():
    crops = np.stack([accent_signal(i % 4, 1.0, i).astype(np.float32) for i in range(4)])
    aug = WaveAugment({"noise": {"prob": 1.0, "babble_prob": 1.0, "snr": [10, 12], "babble_speakers": [3, 3]}}, SR)
    out = aug.batch(crops, [np.random.default_rng([7, i]) for i in range(4)])
    for i in range(4):
        noise = out[i] - crops[i]
        assert 10 - 1e-3 <= power_db(crops[i]) - power_db(noise) <= 12 + 1e-3
        # babble: a scaled sum of the three other crops of the batch
        others = np.delete(crops, i, axis=0).sum(axis=0)
        g = np.dot(noise, others) / np.dot(others, others)
        np.testing.assert_allclose(noise, g * others, atol=1e-5)
    with pytest.raises(ValueError, match="unknown kinds"):
        WaveAugment({"echo": {"prob": 1}}, SR)
    with pytest.raises(ValueError, match="prob must be in"):
        WaveAugment({"noise": {"prob": 2}}, SR)


def test_reverb_changes_the_signal_and_keeps_its_length():
    x = accent_signal(0, 1.0, 1).astype(np.float32)[None]
    aug = WaveAugment({"reverb": {"prob": 1.0, "num_rirs": 2, "rt60": [0.5, 0.6]}}, SR)
    y = aug.batch(x, [np.random.default_rng(0)])
    assert y.shape == x.shape
    assert np.corrcoef(x[0], y[0])[0, 1] < 0.99


# ------------------------------------------------------------------------------------------------
# crops


def make_wav_dir(root: Path, seconds: Dict[str, float]) -> Path:
    """A data dir whose audio is a ramp per utterance (sample i = offset + i * step): a crop shows
    where it was cut.  wav.scp, utt2dur, utt2accent, utt2spk, accents; features for scoring."""
    root.mkdir(parents=True, exist_ok=True)
    wavs, durs, accs = {}, {}, {}
    for k, (utt, sec) in enumerate(sorted(seconds.items())):
        n = int(sec * SR)
        x = (np.arange(n) % 30000 - 15000) / 32768.0
        path = root / f"{utt}.wav"
        sf.write(path, x, SR, subtype="PCM_16")
        wavs[utt], durs[utt], accs[utt] = str(path), f"{sec:.3f}", ACCENTS[k % len(ACCENTS)]
    write_mapping(root / "wav.scp", wavs)
    write_mapping(root / "utt2dur", durs)
    write_mapping(root / "utt2accent", accs)
    write_mapping(root / "utt2spk", {u: u for u in wavs})
    return root


def test_crop_batch_sampler_counts_lengths_shards_and_resumes():
    durs = [1.0, 3.0, 9.0, 30.0] * 10
    s = CropBatchSampler(durs, SR, 2.0, 4.0, passes=2.0, batch_size=8, seed=3)
    batches = s.all_batches(1)
    assert batches == s.all_batches(1) and batches != s.all_batches(2)
    assert all(2 * SR <= b[2] <= 4 * SR and len(b[3]) == 8 for b in batches)
    counts = np.bincount([i for b in batches for i in b[3]], minlength=len(durs))
    # crops per utterance follow the duration: 2 passes of 30 s in 3 s crops = 20
    assert counts[3] in range(15, 21) and counts[0] == 1 or counts[0] == 0
    ranks = [CropBatchSampler(durs, SR, 2.0, 4.0, 2.0, 8, seed=3, rank=r, world_size=3) for r in range(3)]
    assert len({len(r.rank_batches(1)) for r in ranks}) == 1
    assert sorted(b for r in ranks for b in r.rank_batches(1)) == sorted(batches[:3 * len(ranks[0].rank_batches(1))])
    s.set_epoch(1, start=2)
    assert [k[0] for k in s] == batches[2:]
    with pytest.raises(ValueError, match="min_s <= max_s"):
        crop_config({"min_s": 3, "max_s": 2})


def test_crops_lie_inside_the_utterance_and_short_ones_loop(tmp_path):
    d = make_wav_dir(tmp_path / "train", {"a-long": 3.0, "b-short": 0.5})
    cfg = FbankConfig()
    ds = CropDataset(d, cfg, ACCENTS, seed=1)
    n = 2 * SR
    full = {u: sf.read(w, dtype="float32")[0] for u, w in zip(ds.utts, ds._wavs)}
    for trial in range(5):
        rng = np.random.default_rng(trial)
        c = ds.crop(0, n, rng)
        x = full["a-long"]
        starts = np.flatnonzero(np.isclose(x, c[0], atol=1e-6))
        assert any(o + n <= len(x) and np.allclose(x[o:o + n], c, atol=1e-6) for o in starts)
    short = ds.crop(1, n, np.random.default_rng(0))
    np.testing.assert_allclose(short, np.resize(full["b-short"], n), atol=1e-6)
    # a batch without augmentation: the front end's features of the crops, labels from utt2accent
    batch = ds[(0, 0, n, [0, 1])]
    assert batch["feats"].shape == (2, 198, cfg.num_mel_bins) and batch["lengths"].tolist() == [198, 198]
    np.testing.assert_allclose(batch["feats"][1].numpy(), compute_fbank(short, SR, cfg), atol=1e-4)
    assert batch["labels"].tolist() == [0, 1]


def test_crop_dataset_names_missing_files(tmp_path):
    d = make_wav_dir(tmp_path / "train", {"a": 1.0})
    (d / "utt2dur").unlink()
    with pytest.raises(Exception, match="utt2dur: missing"):
        CropDataset(d, FbankConfig(), ACCENTS)


# ------------------------------------------------------------------------------------------------
# the trainer on crops


def online_config(**data):
    return resolve_config({
        "task": "accent", "seed": 3,
        "data": {"features": "online", "cmvn": "utterance", "num_workers": 1,
                 "crop": {"min_s": 1.0, "max_s": 1.5, "passes": 3.0, "batch_size": 8},
                 "augment": {"noise": {"prob": 0.5, "snr": [15, 20]}, "speed": {"prob": 0.3}},
                 "specaug": None, **data},
        "model": {"encoder": {"name": "ecapa", "channels": 16, "res2net_scale": 4, "se_bottleneck": 8, "mfa_dim": 32},
                  "pooling": {"name": "asp", "global_context": True, "bottleneck_dim": 8}, "embed_dim": 16,
                  "head": {"name": "arcface", "margin": 0.2, "label_smoothing": 0.1}},
        "optim": {"name": "adamw", "lr": 5e-3, "scheduler": {"name": "warmup_cosine", "warmup_steps": 2}},
        "train": {"epochs": 3, "log_interval_steps": 0, "margin_ramp": {"start_epoch": 0, "end_epoch": 1}},
    })


def test_trainer_learns_from_crops_and_resumes_identically(wav_corpus, tmp_path):
    torch.set_num_threads(1)
    res = Trainer(online_config(), tmp_path / "exp", wav_corpus["train"], wav_corpus["dev"]).run()
    hist = [json.loads(line) for line in (tmp_path / "exp" / "train_log.jsonl").read_text().splitlines()]
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]
    assert res["best_value"] >= 0.75, hist  # 4 separable 'accents' on whole dev utterances
    # a resumption from the end of epoch 2 (as after a crash) gives the same epoch-3 weights
    import shutil
    shutil.copytree(tmp_path / "exp", tmp_path / "exp2")
    for name in ("epoch_3.pt", "last.pt", ".done"):
        (tmp_path / "exp2" / name).unlink(missing_ok=True)
    Trainer(online_config(), tmp_path / "exp2", wav_corpus["train"], wav_corpus["dev"], resume=True).run()
    a = torch.load(tmp_path / "exp" / "epoch_3.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "exp2" / "epoch_3.pt", weights_only=True)["model"]
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)


def test_online_features_refuse_ctc_and_precomputed_refuses_augment(wav_corpus, tmp_path):
    from accent.training.config import ConfigError

    with pytest.raises(ConfigError, match="need data.features: online"):
        resolve_config({"model": {"encoder": {"name": "ecapa"}}, "data": {"augment": {"noise": {"prob": 1}}}})
    from accent.text.g2p import phone_units
    from accent.text.units import write_units

    lang = tmp_path / "lang_phn"
    lang.mkdir()
    write_units(lang / "units.txt", phone_units())
    cfg = online_config()
    cfg["model"]["ctc_weight"] = 0.1
    with pytest.raises(ConfigError, match="cannot train a CTC branch"):
        Trainer(cfg, tmp_path / "e", wav_corpus["train"], wav_corpus["dev"], lang_dir=lang).run()


def test_speaker_adversary_reverses_its_gradient_and_trains(wav_corpus, tmp_path):
    from accent.models.adversary import SpeakerAdversary, reverse_gradient

    x = torch.randn(4, 8, requires_grad=True)
    reverse_gradient(x, 0.5).sum().backward()
    assert torch.equal(x.grad, torch.full((4, 8), -0.5))
    adv = SpeakerAdversary(8, 3, hidden=4)
    emb = torch.randn(4, 8, requires_grad=True)
    loss = adv(emb, torch.tensor([0, 1, 2, 0]))
    loss.backward()
    # the adversary descends its loss, the embedding ascends it: one step of each raises it
    w_grad = [p.grad.clone() for p in adv.parameters()]
    assert all(g.abs().sum() > 0 for g in w_grad)
    with torch.no_grad():
        moved = emb - 0.1 * emb.grad
    assert adv(moved, torch.tensor([0, 1, 2, 0])).item() > loss.item()

    cfg = online_config()
    cfg["model"]["speaker_adversary"] = {"weight": 0.1, "hidden": 8}
    res = Trainer(cfg, tmp_path / "adv", wav_corpus["train"], wav_corpus["dev"]).run()
    assert res["best_value"] >= 0.5
    from accent.training import load_model

    model, ckpt = load_model(tmp_path / "adv" / "best.pt")
    assert ckpt["config"]["model"]["speaker_adversary"]["num_speakers"] == len(ACCENTS)  # one per accent here
    assert model.adversary is not None
