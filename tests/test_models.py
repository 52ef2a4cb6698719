"""Model library: encoders, poolings, fusion, CTC, the composed AccentModel / AsrModel.

Tiny widths everywhere except one paper-size instantiation per encoder (parameter counts, dims).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import yaml

from accent.models import (
    ENCODERS, FUSIONS, HEADS, NORMALIZERS, POOLINGS, AccentModel, AsrModel, MaskedBatchNorm1d, MaskedBatchNorm2d,
    Registry, ctc_loss, edit_distance, greedy_decode, load_encoder_from_asr, phone_error_rate,
)
from accent.models.ctc import CTCHead, error_counts
from accent.models.masking import run_gru

D = 40
TINY_ENCODERS = {
    "jasper": dict(channels=[16, 16, 24, 24, 32], kernels=[11, 11, 13, 13, 17], prologue_channels=16,
                   epilogue_channels=48, output_dim=64),
    "crnn": dict(depth=18, channels=[4, 8, 8, 16], dense_dim=32, gru_hidden=16),
    "transformer": dict(d_model=32, num_layers=2, num_heads=4, ff_dim=64),
    "ecapa": dict(channels=16, res2net_scale=4, se_bottleneck=8, mfa_dim=48),
    "resnet": dict(depth=10, channels=[4, 8, 8, 16]),
}
TINY_POOLINGS = {
    "stats": {}, "avg": {}, "asp": dict(bottleneck_dim=8), "bigru": dict(hidden_dim=8),
    "netvlad": {}, "ghostvlad": {}, "transformer_aggregator": dict(d_model=16, ff_dim=32),
}
LENGTHS = [57, 40, 23]


@pytest.fixture(autouse=True)
def _seed_and_threads():
    """Seeded; one intra-op thread: these tiny models gain nothing from more, and on a busy 2-core
    machine OpenMP threads waiting for each other make them many times slower."""
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def padded_batch(lengths, dim=D, garbage=5.0):
    """A batch whose padding is filled with large random values (masking must ignore them)."""
    t = max(lengths)
    x = torch.randn(len(lengths), t, dim)
    for i, n in enumerate(lengths):
        x[i, n:] = garbage * torch.randn(t - n, dim) + garbage
    return x, torch.tensor(lengths)


def expected_lengths(name, n):
    if name == "jasper":
        return -(-n // 2)
    if name == "crnn":
        return -(-(-(-n // 2)) // 2)
    if name == "ecapa":
        return n
    if name == "resnet":
        return -(-(-(-(-(-n // 2)) // 2)) // 2)
    return max(((n - 1) // 2 - 1) // 2, 1)


def tiny_encoder(name, **extra):
    return ENCODERS.build(name, input_dim=D, **{**TINY_ENCODERS[name], **extra})


# --------------------------------------------------------------------------------- registry
def test_registry_build_and_typo():
    assert set(ENCODERS.names()) == {"jasper", "crnn", "transformer", "ecapa", "resnet", "ssl", "ge2e"}
    assert set(POOLINGS.names()) >= {"stats", "avg", "bigru", "netvlad", "ghostvlad", "asp", "transformer_aggregator"}
    assert set(HEADS.names()) == {"softmax", "sphereface", "cosface", "arcface", "circle"}
    assert set(FUSIONS.names()) == {"none", "add", "concat", "concat_ca"}
    assert set(NORMALIZERS.names()) == {"global", "utterance", "none"}
    with pytest.raises(KeyError, match="jasper.*Known encoders: crnn, ecapa, ge2e, jasper, resnet, ssl, transformer"):
        ENCODERS.build("jaspr", input_dim=D)
    assert type(POOLINGS.build_from_config({"name": "TSTP"}, 8)).__name__ == "StatsPooling"
    reg = Registry("thing")

    @reg.register("a", aliases=["b"])
    class A:
        def __init__(self, x):
            self.x = x

    assert reg.build("B", 3).x == 3
    with pytest.raises(KeyError, match="already registered"):
        reg.register("b")(A)


# --------------------------------------------------------------------------------- encoders
@pytest.mark.parametrize("name", sorted(TINY_ENCODERS))
def test_encoder_shapes_lengths(name):
    enc = tiny_encoder(name).eval()
    x, lengths = padded_batch(LENGTHS + [6] if name != "transformer" else LENGTHS + [8])
    with torch.no_grad():
        y, ylen = enc(x, lengths)
    assert ylen.tolist() == [expected_lengths(name, n) for n in lengths.tolist()]
    assert torch.equal(enc.output_lengths(lengths), ylen)
    assert y.shape == (x.size(0), expected_lengths(name, x.size(1)), enc.output_dim)
    assert enc.subsampling_factor == {"jasper": 2, "ecapa": 1, "resnet": 8}.get(name, 4)
    for i, n in enumerate(ylen.tolist()):
        assert torch.all(y[i, n:] == 0), "padded output frames must be zero"


@pytest.mark.parametrize("name", sorted(TINY_ENCODERS))
def test_encoder_masking_invariance(name):
    enc = tiny_encoder(name).eval()
    x, lengths = padded_batch(LENGTHS)
    with torch.no_grad():
        y, ylen = enc(x, lengths)
        for i, n in enumerate(LENGTHS):
            yi, li = enc(x[i:i + 1, :n], lengths[i:i + 1])
            assert li.item() == ylen[i].item()
            torch.testing.assert_close(y[i, : li.item()], yi[0], atol=1e-4, rtol=1e-4)


def test_encoders_paper_size():
    """Each encoder once at the paper's size: parameter count and output dims (short input)."""
    x, lengths = padded_batch([24, 17])
    expected = {  # (output_dim, parameters in millions: low, high)
        "jasper": (1024, 40.0, 45.0),
        "crnn": (512, 5.5, 7.0),
        "transformer": (256, 15.5, 18.0),
        "ecapa": (1536, 4.2, 5.2),  # C = 512; with ASP and the 192-dim embedding the paper's 6.2 M
        "resnet": (256 * 5, 4.8, 5.8),  # WeSpeaker ResNet34 (6.6 M with its embedding layer); 40 bins -> 5
    }
    for name, (dim, lo, hi) in expected.items():
        enc = ENCODERS.build(name, input_dim=D).eval()
        n = sum(p.numel() for p in enc.parameters()) / 1e6
        assert lo < n < hi, f"{name}: {n:.2f}M parameters"
        with torch.no_grad():
            y, ylen = enc(x, lengths)
        assert enc.output_dim == dim and y.shape[-1] == dim
        assert ylen.tolist() == [expected_lengths(name, 24), expected_lengths(name, 17)]
    crnn18 = ENCODERS.build("crnn", input_dim=D, depth=18)
    assert sum(p.numel() for p in crnn18.parameters()) < 0.75 * sum(p.numel() for p in ENCODERS.build("crnn", input_dim=D).parameters())
    for layers in (3, 6):
        assert len(ENCODERS.build("transformer", input_dim=D, num_layers=layers).layers) == layers
    ecapa_large = ENCODERS.build("ecapa", input_dim=80, channels=1024)
    assert 12.5 < sum(p.numel() for p in ecapa_large.parameters()) / 1e6 < 14.0  # C = 1024: 14.7 M with ASP + embedding


@pytest.mark.parametrize("cls,shape", [(MaskedBatchNorm1d, (3, 5, 9)), (MaskedBatchNorm2d, (3, 5, 9, 4))])
def test_masked_batchnorm_training_statistics(cls, shape):
    """In training, batch statistics come from the valid frames only (= BN over their concatenation)."""
    lengths = torch.tensor([9, 6, 2])
    x = torch.randn(*shape)
    mask = torch.arange(9)[None] < lengths[:, None]
    x = torch.where(mask.view(3, 1, 9, *([1] * (len(shape) - 3))), x, torch.full_like(x, 100.0))
    bn, ref = cls(5), (torch.nn.BatchNorm1d if cls is MaskedBatchNorm1d else torch.nn.BatchNorm2d)(5)
    valid = torch.cat([x[i, :, :n] for i, n in enumerate(lengths.tolist())], dim=1).unsqueeze(0)
    y, y_ref = bn(x, mask), ref(valid)
    got = torch.cat([y[i, :, :n] for i, n in enumerate(lengths.tolist())], dim=1).unsqueeze(0)
    torch.testing.assert_close(got, y_ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(bn.running_mean, ref.running_mean)
    torch.testing.assert_close(bn.running_var, ref.running_var)
    assert bn.num_batches_tracked.item() == 1


def test_run_gru_equals_packed_sequences():
    """run_gru (no packing, so it exports) gives nn.GRU's packed-sequence outputs and final states."""
    gru = torch.nn.GRU(6, 5, num_layers=2, batch_first=True, bidirectional=True).eval()
    x, lengths = padded_batch(LENGTHS, dim=6)
    with torch.no_grad():
        out, final = run_gru(gru, x, lengths)
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        ref_packed, h_n = gru(packed)
    ref, _ = torch.nn.utils.rnn.pad_packed_sequence(ref_packed, batch_first=True)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)  # padded frames zero in both
    torch.testing.assert_close(final, torch.cat([h_n[-2], h_n[-1]], dim=-1), atol=1e-5, rtol=1e-5)


# --------------------------------------------------------------------------------- poolings
@pytest.mark.parametrize("name", sorted(TINY_POOLINGS))
def test_pooling_shapes_and_masking(name):
    c = 12
    pool = POOLINGS.build(name, c, **TINY_POOLINGS[name]).eval()
    frames, lengths = padded_batch(LENGTHS, dim=c)
    with torch.no_grad():
        out = pool(frames, lengths)
        assert out.shape == (3, pool.output_dim)
        for i, n in enumerate(LENGTHS):
            torch.testing.assert_close(out[i], pool(frames[i:i + 1, :n], lengths[i:i + 1])[0], atol=1e-5, rtol=1e-5)
    dims = {"stats": 2 * c, "avg": c, "asp": 2 * c, "bigru": 16, "netvlad": 8 * c, "ghostvlad": 8 * c,
            "transformer_aggregator": 32}
    assert pool.output_dim == dims[name]


def test_stats_pooling_values():
    frames = torch.tensor([[[1.0], [3.0], [100.0]]])
    out = POOLINGS.build("stats", 1)(frames, torch.tensor([2]))
    torch.testing.assert_close(out, torch.tensor([[2.0, float(np.sqrt(2.0 + 1e-7))]]))
    assert POOLINGS.build("avg", 1)(frames, torch.tensor([2])).item() == 2.0


# --------------------------------------------------------------------------------- fusion
def test_fusions():
    ref, frames = torch.randn(3, 7, 8), torch.randn(3, 7, 8)
    lengths = torch.tensor([7, 4, 2])
    assert FUSIONS.build("none", 8, 8)(ref, frames, lengths) is frames
    torch.testing.assert_close(FUSIONS.build("add", 8, 8)(ref, frames, lengths), ref + frames)
    for name in ("concat", "concat_ca"):
        f = FUSIONS.build(name, 8, 8)
        out = f(ref, frames, lengths)
        assert out.shape == (3, 7, 8) and torch.all(out[1, 4:] == 0)
    assert f.last_attention.shape == (3, 16)
    assert f.mlp[0].out_features == 1  # 16 // ratio 16
    ratio = f.reference_ratio()
    torch.testing.assert_close(ratio, f.last_attention[:, :8].sum(1) / f.last_attention[:, 8:].sum(1))
    # attention uses masked statistics: garbage in padding changes nothing
    ref2, frames2 = ref.clone(), frames.clone()
    ref2[1, 4:], frames2[1, 4:] = 1e3, -1e3
    out2 = f(ref2, frames2, lengths)
    torch.testing.assert_close(out2, out)
    with pytest.raises(ValueError):
        FUSIONS.build("add", 8, 4)


# --------------------------------------------------------------------------------- CTC
def test_greedy_decode_and_per():
    best = [[0, 1, 1, 0, 1, 2, 2, 0, 3], [2, 2, 2, 0, 0, 3, 3, 0, 0]]
    log_probs = torch.full((2, 9, 4), -10.0)
    for b, seq in enumerate(best):
        for t, k in enumerate(seq):
            log_probs[b, t, k] = -0.01
    assert greedy_decode(log_probs) == [[1, 1, 2, 3], [2, 3]]
    assert greedy_decode(log_probs, torch.tensor([6, 9])) == [[1, 1, 2], [2, 3]]
    hyps, refs = [[1, 2, 3], [4, 5], []], [[1, 3], [4, 5, 6], [7]]
    # 1 insertion + 1 deletion + 1 deletion over 2 + 3 + 1 reference tokens
    assert error_counts(hyps, refs) == (3, 6)
    assert phone_error_rate(hyps, refs) == pytest.approx(0.5)
    assert edit_distance(["AH", "B", "K"], ["AH", "P", "K", "S"]) == 2


def test_ctc_loss_hand_computed():
    p = np.array([[0.6, 0.4], [0.3, 0.7]])  # T=2, units {blank, 1}
    lp = torch.tensor(np.log(p), dtype=torch.float32).unsqueeze(0)
    # paths for "1": (1,1), (blank,1), (1,blank)
    expected = -np.log(p[0, 1] * p[1, 1] + p[0, 0] * p[1, 1] + p[0, 1] * p[1, 0])
    got = ctc_loss(lp, torch.tensor([2]), torch.tensor([[1]]), torch.tensor([1]))
    assert got.item() == pytest.approx(expected, rel=1e-5)
    # impossible target (too long) -> zero, not inf
    assert ctc_loss(lp, torch.tensor([2]), torch.tensor([[1, 1, 1]]), torch.tensor([3])).item() == 0.0
    head = CTCHead(8, 5)
    out, lens = head(torch.randn(2, 6, 8), torch.tensor([6, 3]))
    torch.testing.assert_close(out.exp().sum(-1), torch.ones(2, 6))


# --------------------------------------------------------------------------------- full model
def tiny_model_cfg(encoder="jasper", hybrid=True, fusion="concat_ca", pooling="transformer_aggregator",
                   head=None, ctc_weight=0.1):
    enc = {"name": encoder, **TINY_ENCODERS[encoder]}
    cfg = {"encoder": enc, "fusion": fusion if hybrid else "none",
           "pooling": {"name": pooling, **TINY_POOLINGS[pooling]}, "embed_dim": 16,
           "head": head or {"name": "circle", "scale": 30, "margin": 0.2}, "ctc_weight": ctc_weight}
    if hybrid:
        cfg["reference_encoder"] = copy.deepcopy(enc)
    return cfg


def run(model, x, lengths, labels=None, targets=None, target_lengths=None):
    """The model's outputs on a batch, with ``loss`` among them."""
    loss, out = model({"feats": x, "lengths": lengths, "labels": labels, "targets": targets,
                       "target_lengths": target_lengths})
    return {**out, "loss": loss}


@pytest.mark.parametrize("encoder,pooling", [("jasper", "transformer_aggregator"), ("crnn", "stats"),
                                             ("transformer", "avg"), ("ecapa", "asp"), ("resnet", "stats")])
def test_accent_model_masking_invariance(encoder, pooling):
    model = AccentModel.from_config(tiny_model_cfg(encoder, hybrid=encoder == "jasper", pooling=pooling),
                                    input_dim=D, num_classes=4, num_units=6, normalize="utterance").eval()
    x, lengths = padded_batch(LENGTHS)
    with torch.no_grad():
        out = run(model, x, lengths)
        for i, n in enumerate(LENGTHS):
            one = run(model, x[i:i + 1, :n], lengths[i:i + 1])
            torch.testing.assert_close(out["embedding"][i], one["embedding"][0], atol=1e-4, rtol=1e-4)
            torch.testing.assert_close(out["logits"][i], one["logits"][0], atol=1e-4, rtol=1e-4)
            m = one["ctc_lengths"].item()
            torch.testing.assert_close(out["ctc_log_probs"][i, :m], one["ctc_log_probs"][0], atol=1e-4, rtol=1e-4)


def test_accent_model_outputs_and_losses():
    model = AccentModel.from_config({"model": tiny_model_cfg()}, input_dim=D, num_classes=4, num_units=6)
    x, lengths = padded_batch(LENGTHS)
    labels = torch.tensor([0, 3, 1])
    targets, tlen = torch.tensor([[1, 2, 3], [4, 5, 0], [1, 0, 0]]), torch.tensor([3, 2, 1])
    out = run(model, x, lengths, labels, targets, tlen)
    assert out["logits"].shape == (3, 4) and out["embedding"].shape == (3, 16)
    assert out["ctc_log_probs"].shape == (3, -(-57 // 2), 6)
    assert out["ctc_lengths"].tolist() == [29, 20, 12]
    torch.testing.assert_close(out["loss"], out["accent_loss"] + 0.1 * out["ctc_loss"])
    assert model.channel_attention.shape == (3, 2 * 64)  # (B, 2d)
    assert model.fusion.reference_ratio().shape == (3,)
    infer = run(model.eval(), x, lengths)
    assert infer["loss"] is None and infer["accent_loss"] is None and infer["ctc_loss"] is None
    no_ctc = AccentModel.from_config(tiny_model_cfg(ctc_weight=0), input_dim=D, num_classes=4)
    assert no_ctc.ctc_head is None and run(no_ctc, x, lengths)["ctc_log_probs"] is None
    with pytest.raises(KeyError, match="unknown model config keys"):
        AccentModel.from_config({**tiny_model_cfg(), "poling": "stats"}, D, 4, 6)
    with pytest.raises(ValueError, match="needs a reference_encoder"):
        AccentModel.from_config(tiny_model_cfg(hybrid=False) | {"fusion": "concat"}, D, 4, 6)


def test_reference_encoder_stays_fixed():
    model = AccentModel.from_config(tiny_model_cfg(), input_dim=D, num_classes=4, num_units=6)
    model.train()
    assert model.training and model.encoder.training and not model.reference_encoder.training
    before = {k: v.clone() for k, v in model.reference_encoder.state_dict().items()}
    enc_before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    opt = torch.optim.Adam(model.trainable_parameters(), lr=1e-2)
    ref_ids = {id(p) for p in model.reference_encoder.parameters()}
    opt_ids = {id(p) for g in opt.param_groups for p in g["params"]}
    assert not (ref_ids & opt_ids)
    assert len(opt_ids) == sum(1 for _ in model.parameters()) - len(ref_ids)
    x, lengths = padded_batch(LENGTHS)
    out = run(model, x, lengths, torch.tensor([0, 1, 2]), torch.tensor([[1, 2], [3, 0], [4, 0]]), torch.tensor([2, 1, 1]))
    out["loss"].backward()
    opt.step()
    assert all(p.grad is None for p in model.reference_encoder.parameters())
    after = model.reference_encoder.state_dict()
    for k, v in before.items():  # parameters and BN running statistics, bit for bit
        assert torch.equal(v, after[k]), k
    changed = [k for k, v in model.encoder.state_dict().items() if not torch.equal(v, enc_before[k])]
    assert any(k.endswith("running_mean") for k in changed) and any(k.endswith("weight") for k in changed)


def test_asr_init_and_yaml_config(tmp_path):
    text = """
model:
  encoder: {name: jasper, channels: [16, 16, 24, 24, 32], prologue_channels: 16, epilogue_channels: 48, output_dim: 64}
  reference_encoder: same
  fusion: concat_ca
  pooling: {name: transformer_aggregator, d_model: 16, ff_dim: 32}
  embed_dim: 16
  head: {name: circle, scale: 30, margin: 0.2}
  ctc_weight: 0.1
"""
    cfg = yaml.safe_load(text)
    asr = AsrModel.from_config(cfg, input_dim=D, num_units=6)
    x, lengths = padded_batch([30, 20])
    targets, target_lengths = torch.tensor([[1, 2], [3, 0]]), torch.tensor([2, 1])
    # it learns: 20 Adam steps on this one batch at least halve its CTC loss (seed 0: to a quarter)
    opt = torch.optim.Adam(asr.parameters(), lr=3e-3)
    losses = []
    for _ in range(20):
        loss = run(asr, x, lengths, targets=targets, target_lengths=target_lengths)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses
    assert len(asr.decode(x, lengths)) == 2
    path = tmp_path / "asr.pt"
    torch.save({"model": asr.state_dict(), "epoch": 3}, path)
    model = AccentModel.from_config(cfg, input_dim=D, num_classes=4, num_units=6)
    res = load_encoder_from_asr(model, str(path), targets="both")
    assert res == {"encoder": ([], []), "reference_encoder": ([], [])}
    for k, v in asr.encoder.state_dict().items():
        assert torch.equal(model.encoder.state_dict()[k], v)
        assert torch.equal(model.reference_encoder.state_dict()[k], v)
    assert not any(p.requires_grad for p in model.reference_encoder.parameters())


def test_tiny_model_overfits():
    """8 random utterances, 4 classes: 100 % train accuracy within 100 Adam steps."""
    cfg = tiny_model_cfg("jasper", hybrid=False, pooling="stats", ctc_weight=0.0)
    cfg["encoder"]["dropout"] = 0.0
    model = AccentModel.from_config(cfg, input_dim=D, num_classes=4)
    x, lengths = padded_batch([60, 55, 50, 45, 40, 35, 30, 25], garbage=1.0)
    labels = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    opt = torch.optim.Adam(model.trainable_parameters(), lr=3e-3)
    acc, step = 0.0, 0
    for step in range(1, 101):
        model.train()
        out = run(model, x, lengths, labels)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        if step % 5 == 0:
            model.eval()
            with torch.no_grad():
                acc = (run(model, x, lengths)["logits"].argmax(-1) == labels).float().mean().item()
            if acc == 1.0:
                break
    assert acc == 1.0, f"train accuracy {acc} after {step} steps"
