"""accent.dataset: bucketed batches, SpecAugment, labels/CTC targets, normalisation, loading.

The data dirs are real: generated audio -> Kaldi FBank (kaldi-native-fbank) -> kaldiio ark/scp,
as stage 2 writes them (``make_corpus`` and the ``corpus`` fixture of tests/conftest.py).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from accent.data.kaldi_dir import DataDirError, write_list
from accent.dataset import (
    BucketBatchSampler, FeatsDataset, SpecAugment, Tokenizer, collate, make_loader,
    map_labels, padding_fraction, read_label_list,
)
from accent.text.units import write_units
from conftest import ACCENTS, make_feats_dir

# ------------------------------------------------------------------------------------------------
# Sampler


def speech_lengths(n: int = 3000, seed: int = 0) -> np.ndarray:
    """Utterance lengths in frames like read speech corpora: 1-15 s, mode around 3-4 s."""
    rng = np.random.default_rng(seed)
    return np.clip(rng.gamma(4.0, 1.0, size=n) * 100, 100, 1500).astype(int)


def test_bucketing_padding_under_15_percent_and_frame_budget() -> None:
    lengths = speech_lengths()
    for max_frames in (3000, 12000, 40000):
        s = BucketBatchSampler(lengths, max_frames, seed=3)
        batches = s.all_batches(0)
        frac = padding_fraction(batches, lengths)
        assert frac < 0.15, (max_frames, frac)
        assert all(len(b) * lengths[b].max() <= max_frames for b in batches)
    # and on a narrow distribution (the demo corpus: 2-13 s)
    lengths = np.random.default_rng(1).integers(190, 1356, size=2000)
    assert padding_fraction(BucketBatchSampler(lengths, 12000).all_batches(0), lengths) < 0.05


def test_every_utterance_once_per_epoch_deterministic_and_reshuffled() -> None:
    lengths = speech_lengths(1000)
    s = BucketBatchSampler(lengths, 8000, seed=5)
    for epoch in (0, 1, 7):
        s.set_epoch(epoch)
        flat = [i for b in s for (e, i) in b]
        assert sorted(flat) == list(range(len(lengths)))
        assert all(e == epoch for b in s for (e, _) in b)
    s.set_epoch(2)
    first = list(s)
    again = BucketBatchSampler(lengths, 8000, seed=5)
    again.set_epoch(2)
    assert list(again) == first  # same seed + epoch -> same batches, in the same order
    s.set_epoch(3)
    assert list(s) != first  # another epoch -> another order
    other = BucketBatchSampler(lengths, 8000, seed=6)
    other.set_epoch(2)
    assert list(other) != first


def test_resume_position_skips_consumed_batches() -> None:
    lengths = speech_lengths(500)
    s = BucketBatchSampler(lengths, 6000, seed=1)
    s.set_epoch(4)
    full = list(s)
    s.set_epoch(4, start=5)
    assert len(s) == len(full) - 5
    assert list(s) == full[5:]


@pytest.mark.parametrize("world_size", [2, 3, 4])
def test_rank_shards_disjoint_complete_and_equal(world_size: int) -> None:
    lengths = speech_lengths(777, seed=world_size)
    shards = []
    for rank in range(world_size):
        s = BucketBatchSampler(lengths, 7000, seed=9, rank=rank, world_size=world_size)
        s.set_epoch(1)
        shards.append([i for b in s for (_, i) in b])
        rank0 = BucketBatchSampler(lengths, 7000, seed=9, rank=0, world_size=world_size)
        assert s.num_batches() == rank0.num_batches(1)
    flat = [i for shard in shards for i in shard]
    assert len(flat) == len(set(flat)) == len(lengths)  # disjoint and complete
    with pytest.raises(ValueError):
        BucketBatchSampler(lengths[:2], 7000, rank=0, world_size=3)


def test_max_batch_size_and_long_utterances() -> None:
    lengths = np.array([50] * 100 + [5000])
    s = BucketBatchSampler(lengths, 1000, max_batch_size=8, shuffle=False)
    batches = s.all_batches(0)
    assert max(len(b) for b in batches) <= 8
    assert [100] in batches  # longer than max_frames: alone
    assert sorted(i for b in batches for i in b) == list(range(101))
    # a floor of two utterances per batch wins over max_frames, and no batch is left smaller
    lengths = np.array([50] * 5 + [900, 950, 990])
    for shuffle in (False, True):
        batches = BucketBatchSampler(lengths, 1000, min_batch_size=2, shuffle=shuffle, seed=4).all_batches(0)
        assert min(len(b) for b in batches) >= 2
        assert sorted(i for b in batches for i in b) == list(range(8))
    for rank in range(2):
        s = BucketBatchSampler(lengths, 1000, min_batch_size=2, rank=rank, world_size=2)
        assert min(len(b) for b in s.rank_batches(0)) >= 2


# ------------------------------------------------------------------------------------------------
# SpecAugment


def test_specaugment_masks() -> None:
    aug = SpecAugment(num_freq_masks=2, freq_mask_width=8, num_time_masks=2, time_mask_width=40, time_mask_ratio=0.2)
    m = aug.mask(300, 40, np.random.default_rng(1))
    assert m.shape == (300, 40) and m.dtype == bool
    bins, frames = np.where(m.all(axis=0))[0], np.where(m.all(axis=1))[0]
    assert 0 < len(bins) <= 16 and 0 < len(frames) <= 80
    expected = np.isin(np.arange(40), bins)[None, :] | np.isin(np.arange(300), frames)[:, None]
    assert (m == expected).all()  # whole bins and whole frames
    assert np.array_equal(aug.mask(300, 40, np.random.default_rng(1)), m)  # the generator decides everything
    assert not np.array_equal(aug.mask(300, 40, np.random.default_rng(2)), m)
    # the time-mask ratio bounds the masks of a short utterance
    short = SpecAugment(num_freq_masks=0, num_time_masks=5, time_mask_width=40, time_mask_ratio=0.1).mask(
        20, 40, np.random.default_rng(3))
    assert 0 < short.any(axis=1).sum() <= 5 * 2


def test_the_model_fills_specaug_masks_after_normalising() -> None:
    from accent.models.normalize import UtteranceMVN, apply_specaug_mask
    from accent.models.masking import valid_mask

    x = torch.from_numpy(np.random.default_rng(0).standard_normal((2, 50, 40)).astype(np.float32) + 5.0)
    lengths = torch.tensor([50, 30])
    valid = valid_mask(lengths, 50)
    mask = collate([{"utt": str(i), "feats": np.zeros((n, 40), np.float32), "label": None, "target": None,
                     "specaug_mask": SpecAugment().mask(n, 40, np.random.default_rng(i))}
                    for i, n in enumerate((50, 30))])["specaug_mask"]
    assert mask.shape == (2, 50, 40) and not mask[1, 30:].any()  # padding is never masked
    normed = UtteranceMVN(40)(x, valid)
    zero = apply_specaug_mask(normed, mask, valid, "zero")
    assert (zero[mask] == 0).all() and torch.equal(zero[~mask], normed[~mask])
    mean = apply_specaug_mask(normed, mask, valid, "mean")
    fill = normed[1, :30].mean(0)  # the utterance's own mean over its valid frames
    rows, cols = torch.where(mask[1])
    torch.testing.assert_close(mean[1, rows, cols], fill[cols])
    assert SpecAugment.from_config(None) is None
    assert SpecAugment.from_config({"num_freq_masks": 0, "num_time_masks": 0}) is None
    with pytest.raises(KeyError, match="unknown specaug"):
        SpecAugment.from_config({"freq_masks": 2})


# ------------------------------------------------------------------------------------------------
# Dataset: labels, targets, normalisation


def test_labels_follow_the_training_label_list(corpus, tmp_path) -> None:
    labels = read_label_list(corpus["train"])
    assert labels == list(ACCENTS)
    dev = FeatsDataset(corpus["dev"], labels=labels, tokenizer=None)
    for i, utt in enumerate(dev.utts):
        assert dev[i]["label"] == labels.index(utt.split("-")[0])
    # a dev set whose own accents file is in another order is still mapped with the train list
    (corpus["dev"] / "accents").write_text("IND\nUK\nUS\n")
    try:
        dev2 = FeatsDataset(corpus["dev"], labels=labels, tokenizer=None)
        assert dev2.label_ids == dev.label_ids
    finally:
        write_list(corpus["dev"] / "accents", list(ACCENTS))
    # an unknown label names the file
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "utt2accent").write_text("a1 US\na2 ES\n")
    with pytest.raises(DataDirError, match=r"bad/utt2accent: labels \['ES'\] are not in the training label list"):
        map_labels(bad, labels)


def test_ctc_targets_from_text_phn_and_bpe(corpus, tmp_path) -> None:
    tok = Tokenizer(corpus["lang"])
    assert tok.kind == "phn" and tok.num_units == 40
    ds = FeatsDataset(corpus["train"], labels=None, tokenizer=tok, require_labels=False)
    text = dict(line.split(" ", 1) for line in (corpus["train"] / "text.phn").read_text().splitlines())
    units = (corpus["lang"] / "units.txt").read_text().split()[::2]
    item = ds[3]
    assert [units[i] for i in item["target"]] == text[item["utt"]].split()
    assert 0 not in item["target"]  # the blank is never a target
    # an unknown phone names the file and the utterance
    bad = tmp_path / "lang_bad"
    bad.mkdir()
    write_units(bad / "units.txt", ["<blank>", "AA", "AE"])
    with pytest.raises(DataDirError, match=r"text.phn: .*unit '\w+' is not in"):
        FeatsDataset(corpus["train"], tokenizer=Tokenizer(bad), require_labels=False)
    # BPE: a lang dir with a bpe.model encodes the data dir's text
    from accent.text.bpe import encode_units, train_bpe

    lang_bpe = tmp_path / "lang_bpe"
    sentences = [s.split(" ", 1)[1] for s in (corpus["train"] / "text").read_text().splitlines()] * 3
    train_bpe(sentences, lang_bpe, vocab_size=16)
    tok_bpe = Tokenizer(lang_bpe)
    assert tok_bpe.kind == "bpe"
    ds_bpe = FeatsDataset(corpus["train"], tokenizer=tok_bpe, require_labels=False)
    words = dict(line.split(" ", 1) for line in (corpus["train"] / "text").read_text().splitlines())
    assert ds_bpe[0]["target"] == encode_units(lang_bpe / "bpe.model", words[ds_bpe.utts[0]])
    # a set without transcripts: targets optional unless required
    notext = make_feats_dir(tmp_path / "notext", {"US-X-000": (0, 0.4, 1)}, with_text=False)
    assert FeatsDataset(notext, tokenizer=tok, require_targets=False).targets is None
    with pytest.raises(DataDirError, match="text.phn: missing"):
        FeatsDataset(notext, tokenizer=tok)


def test_normalisation_modes(corpus) -> None:
    from accent.models import NORMALIZERS
    from accent.models.normalize import read_cmvn_stats
    from accent.models.masking import valid_mask

    ds = FeatsDataset(corpus["train"], labels=None, require_labels=False)
    raw = [torch.from_numpy(ds[i]["feats"]) for i in range(len(ds))]  # the dataset gives raw features
    batch = collate([{"utt": str(i), "feats": f.numpy(), "label": None, "target": None} for i, f in enumerate(raw)])
    valid = valid_mask(batch["lengths"], batch["feats"].size(1))
    cmvn = NORMALIZERS.build("global", 40)
    cmvn.set_stats(*read_cmvn_stats(corpus["train"] / "cmvn.ark"))
    out = cmvn(batch["feats"], valid)[valid]  # the valid frames of every utterance
    assert torch.allclose(out.mean(0), torch.zeros(40), atol=1e-3) and torch.allclose(out.std(0), torch.ones(40), atol=1e-2)
    assert (cmvn(batch["feats"], valid)[~valid] == 0).all()  # padding stays zero
    utt = NORMALIZERS.build("utterance", 40)(batch["feats"], valid)
    for i, f in enumerate(raw):  # each utterance by its own statistics, as one by one
        alone = NORMALIZERS.build("utterance", 40)(f[None], torch.ones(1, len(f), dtype=torch.bool))[0]
        torch.testing.assert_close(utt[i, :len(f)], alone, atol=1e-4, rtol=1e-4)
        assert torch.allclose(alone.mean(0), torch.zeros(40), atol=1e-4)
    assert torch.equal(NORMALIZERS.build("none", 40)(batch["feats"], valid), batch["feats"])
    with pytest.raises(FileNotFoundError, match="CMVN statistics not found"):
        read_cmvn_stats(corpus["train"] / "nope.ark")
    with pytest.raises(KeyError, match="unknown normalizer 'per_speaker'"):
        NORMALIZERS.build("per_speaker", 40)


def test_collate_pads_and_keeps_order(corpus) -> None:
    tok = Tokenizer(corpus["lang"])
    ds = FeatsDataset(corpus["train"], labels=list(ACCENTS), tokenizer=tok)
    items = [ds[i] for i in (0, 5, 2)]
    b = collate(items)
    assert b["utts"] == [it["utt"] for it in items]
    assert b["feats"].shape == (3, max(len(it["feats"]) for it in items), 40)
    for i, it in enumerate(items):
        n = len(it["feats"])
        assert int(b["lengths"][i]) == n
        assert torch.equal(b["feats"][i, :n], torch.from_numpy(it["feats"]))
        assert (b["feats"][i, n:] == 0).all()
        assert b["targets"][i, : b["target_lengths"][i]].tolist() == it["target"]
    assert b["labels"].tolist() == [it["label"] for it in items]


def test_loader_workers_give_the_same_batches_as_the_main_process(corpus) -> None:
    ds = FeatsDataset(corpus["train"], labels=list(ACCENTS), specaug=SpecAugment(), seed=3)
    out = []
    for workers in (0, 2):
        sampler = BucketBatchSampler(ds.lengths, 400, seed=1)
        sampler.set_epoch(2)
        out.append(list(make_loader(ds, sampler, num_workers=workers)))
    assert len(out[0]) == len(out[1]) > 1
    for a, b in zip(*out):
        assert a["utts"] == b["utts"] and torch.equal(a["feats"], b["feats"])
        assert torch.equal(a["specaug_mask"], b["specaug_mask"])
    # the augmentation depends on the epoch
    sampler = BucketBatchSampler(ds.lengths, 400, seed=1)
    sampler.set_epoch(3)
    key = {u: m[:n] for b in make_loader(ds, sampler) for u, m, n in zip(b["utts"], b["specaug_mask"], b["lengths"])}
    first = out[0][0]
    n = int(first["lengths"][0])
    assert not torch.equal(key[first["utts"][0]], first["specaug_mask"][0, :n])
