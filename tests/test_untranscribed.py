"""Utterances without transcripts (AESRC segments whose .txt is ``<unk>``): no invented phones in
stage 3, no ``<UNK>`` BPE pieces, no CTC loss, and a clear count (or error) in MTL training."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from accent.data.aesrc import read_transcript
from accent.data.kaldi_dir import DataDirError, read_mapping, write_mapping
from accent.dataset import FeatsDataset, Tokenizer
from accent.models.ctc import ctc_loss
from accent.text.bpe import read_sentences, train_bpe
from accent.text.g2p import prepare_lang_phn
from accent.training import Trainer, resolve_config
from conftest import make_corpus, tiny_accent


def test_unk_transcript_is_kept_as_the_unknown_word(tmp_path) -> None:
    txt = tmp_path / "G00001S1001.txt"
    txt.write_text("<unk>")
    assert read_transcript(txt) == "<UNK>"


def test_stage3_gives_untranscribed_utterances_empty_phones_and_no_bpe_text(tmp_path) -> None:
    d = tmp_path / "data" / "train"
    d.mkdir(parents=True)
    text = {f"US-S1-{i:03d}": "<UNK>" for i in range(6)}
    text.update({"US-S1-100": "HELLO WORLD", "US-S1-101": "GOOD MORNING <UNK>", "US-S1-102": ""})
    write_mapping(d / "text", text)
    s = prepare_lang_phn(tmp_path / "data" / "lang_phn", [d])
    phn = read_mapping(d / "text.phn", allow_empty_value=True)
    assert list(phn) == list(read_mapping(d / "text", allow_empty_value=True))  # one line per utterance
    assert phn["US-S1-100"] == "HH AH L OW W ER L D"
    assert all(phn[u] == "" for u in phn if u != "US-S1-100"), phn
    assert s.untranscribed == {d: 8}
    lexicon = (tmp_path / "data" / "lang_phn" / "lexicon.txt").read_text()
    assert "<UNK>" not in lexicon and "AH NG K" not in lexicon

    assert read_sentences([d]) == ["HELLO WORLD"]
    write_mapping(d / "text", {**text, **{f"UK-S2-{i:03d}": f"THE CAT SAT ON MAT {i}" for i in range(20)}})
    model = train_bpe(read_sentences([d]), tmp_path / "lang_bpe", 30)
    pieces = (model.parent / "bpe.vocab").read_text()
    assert "UNK" not in pieces and "<" not in pieces.replace("<unk>", "")
    tok = Tokenizer(model.parent)  # BPE CTC targets come from text: none for <UNK>
    assert tok.encode("<UNK>") == [] and tok.encode("GOOD MORNING <UNK>") == [] and tok.encode("THE CAT")


def test_ctc_loss_leaves_out_utterances_without_targets() -> None:
    torch.manual_seed(0)
    logits = torch.randn(3, 20, 6, requires_grad=True)
    lp = logits.log_softmax(-1)
    lengths = torch.tensor([20, 20, 18])
    targets = torch.tensor([[1, 2, 3], [0, 0, 0], [4, 5, 0]])
    tlen = torch.tensor([3, 0, 2])
    loss = ctc_loss(lp, lengths, targets, tlen)
    keep = torch.tensor([0, 2])
    alone = ctc_loss(lp[keep], lengths[keep], targets[keep], tlen[keep])
    assert torch.allclose(loss, alone)  # the mean over the two utterances with targets
    loss.backward()
    assert logits.grad[1].abs().max() == 0 and logits.grad[0].abs().max() > 0
    assert ctc_loss(lp, lengths, targets, tlen, reduction="none")[1] == 0
    none = ctc_loss(lp[1:2], lengths[1:2], targets[1:2], tlen[1:2])
    assert none.item() == 0 and none.requires_grad  # still in the graph (DDP needs every gradient)


@pytest.fixture(scope="module")
def corpus_without_some_transcripts(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("untranscribed")
    data = make_corpus(root)
    phn = read_mapping(data["train"] / "text.phn")
    untranscribed = sorted(phn)[::2]
    write_mapping(data["train"] / "text.phn", {u: ("" if u in untranscribed else p) for u, p in phn.items()})
    return root, data, len(phn) - len(untranscribed), len(phn)


def test_mtl_reports_the_utterances_with_ctc_targets(corpus_without_some_transcripts, caplog) -> None:
    root, data, carriers, total = corpus_without_some_transcripts
    ds = FeatsDataset(data["train"], tokenizer=Tokenizer(data["lang"]), labels=None)
    assert sum(1 for t in ds.targets if not t) == total - carriers
    cfg = resolve_config(tiny_accent(model__ctc_weight=0.3, train__epochs=1))
    with caplog.at_level("INFO"):
        Trainer(cfg, root / "exp" / "mtl", data["train"], data["dev"], device="cpu").run()
    results = json.loads((root / "exp" / "mtl" / "results.json").read_text())
    assert results["ctc_utts"]["train"] == carriers and results["ctc_utts"]["train_total"] == total
    assert f"CTC targets (phn): {carriers} of {total} training utterances" in caplog.text
    rec = json.loads((root / "exp" / "mtl" / "train_log.jsonl").read_text().splitlines()[-1])
    assert rec["train_ctc_utts"] == carriers and rec["train_ctc_loss"] > 0


def test_mtl_without_any_transcript_fails_clearly(corpus_without_some_transcripts, tmp_path) -> None:
    root, data, _, _ = corpus_without_some_transcripts
    train = tmp_path / "train"
    shutil.copytree(data["train"], train)
    write_mapping(train / "text.phn", {u: "" for u in read_mapping(train / "text.phn", allow_empty_value=True)})
    cfg = resolve_config(tiny_accent(model__ctc_weight=0.3, train__epochs=1))
    tr = Trainer(cfg, tmp_path / "exp", train, data["dev"], lang_dir=data["lang"], cmvn=data["train"] / "cmvn.ark",
                 device="cpu")
    with pytest.raises(DataDirError, match=r"text\.phn: none of the \d+ utterances has a transcript"):
        tr.run()
