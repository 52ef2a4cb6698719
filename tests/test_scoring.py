"""accent.evaluation.scoring / results_table: scores against hand-computed values.

The made-up predictions below (a 4-accent model; IND is predicted once but never the reference)::

    ref  CHN US US UK US  CHN UK CHN US CHN
    hyp  CHN US UK UK IND CHN US UK  US CHN

by hand: US 2/4, UK 1/2, CHN 3/4 -> total 6/10 = 60 %, macro (50 + 50 + 75) / 3 = 58.33 %;
confusion (rows ref, columns hyp, AESRC order US UK CHN IND)::

    US   2 1 0 1
    UK   1 1 0 0
    CHN  0 1 3 0
    IND  0 0 0 0
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

from accent.data.kaldi_dir import DataDirError
from accent.evaluation.predictions import (
    Decoded, decode_dir, decode_scores, read_embeddings, read_predictions, write_decode_dir,
)
from accent.evaluation.results_table import commit_of, config_name, load_experiment, results_table
from accent.evaluation.scoring import (
    accent_order, confusion_text, score, summary_csv, summary_markdown, write_set_results,
)

REFS = ["CHN", "US", "US", "UK", "US", "CHN", "UK", "CHN", "US", "CHN"]
HYPS = ["CHN", "US", "UK", "UK", "IND", "CHN", "US", "UK", "US", "CHN"]
MODEL_LABELS = ["UK", "IND", "US", "CHN"]  # deliberately not in AESRC order
CONFUSION = [[2, 1, 0, 1], [1, 1, 0, 0], [0, 1, 3, 0], [0, 0, 0, 0]]


def test_accent_order_is_aesrc_then_others_sorted() -> None:
    assert accent_order(["RU", "ZZ", "US", "AA", "KR", "US"]) == ["US", "KR", "RU", "AA", "ZZ"]
    assert accent_order(["PT", "RU", "KR", "JPN", "IND", "CHN", "UK", "US"]) == [
        "US", "UK", "CHN", "IND", "JPN", "KR", "PT", "RU"]


def test_score_matches_hand_computed_values() -> None:
    s = score(REFS, HYPS, MODEL_LABELS)
    assert s.accents == ["US", "UK", "CHN"]  # IND is not in the reference: no accuracy, not in the macro
    assert s.per_accent == pytest.approx({"US": 0.5, "UK": 0.5, "CHN": 0.75})
    assert s.counts == {"US": 4, "UK": 2, "CHN": 4}
    assert s.correct == {"US": 2, "UK": 1, "CHN": 3}
    assert s.accuracy == pytest.approx(0.6)
    assert s.macro == pytest.approx((0.5 + 0.5 + 0.75) / 3)
    assert s.utterances == 10
    assert s.labels == ["US", "UK", "CHN", "IND"]
    assert s.confusion.tolist() == CONFUSION
    # without the model's label list the axes are the labels seen
    assert score(["UK", "US"], ["UK", "UK"]).labels == ["US", "UK"]


def test_score_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="2 references but 1 predictions"):
        score(["US", "UK"], ["US"])
    with pytest.raises(ValueError, match="no utterances"):
        score([], [])


def test_text_renderings() -> None:
    s = score(REFS, HYPS, MODEL_LABELS)
    text = confusion_text(s)
    lines = text.splitlines()
    counts = {ln.split()[0]: ln.split()[1:] for ln in lines[2:6]}
    assert lines[1].split() == ["ref\\hyp", "US", "UK", "CHN", "IND", "total"]
    assert counts == {"US": ["2", "1", "0", "1", "4"], "UK": ["1", "1", "0", "0", "2"],
                      "CHN": ["0", "1", "3", "0", "4"], "IND": ["0", "0", "0", "0", "0"]}
    percent = {ln.split()[0]: ln.split()[1:] for ln in lines[9:13]}
    assert percent["CHN"] == ["0.0", "25.0", "75.0", "0.0", "4"]
    assert percent["IND"] == ["-", "-", "-", "-", "0"]

    # a second set without UK: its cell is "-", the columns stay in AESRC order
    other = score(["CHN", "US"], ["CHN", "CHN"], MODEL_LABELS)
    rows = list(csv.reader(io.StringIO(summary_csv({"dev": s, "test": other}))))
    assert rows == [["set", "unit", "n", "US", "UK", "CHN", "acc", "macro"],
                    ["dev", "utt", "10", "50.00", "50.00", "75.00", "60.00", "58.33"],
                    ["test", "utt", "2", "0.00", "-", "100.00", "50.00", "50.00"]]
    md = summary_markdown({"dev": s}, "exp/x").splitlines()
    assert md[0] == "# exp/x"
    assert [c.strip() for c in md[-1].strip("|").split("|")] == ["dev", "utt", "10", "50.00", "50.00", "75.00",
                                                                 "60.00", "58.33"]


def test_set_results_files(tmp_path: Path) -> None:
    s = score(REFS, HYPS, MODEL_LABELS)
    write_set_results(tmp_path, "dev", s, "exp/x (best.pt)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["confusion.txt", "results.csv", "results.md"]
    md = (tmp_path / "results.md").read_text()
    assert "| total  |   10 |       6 |   60.00 |" in md and "| macro  |" in md and "58.33" in md
    assert (tmp_path / "confusion.txt").read_text() == confusion_text(s)


# ------------------------------------------------------------------------------------------------
# Decode directories and the experiments table


def fake_decode(refs, hyps, labels, seed: int = 0) -> Decoded:
    rng = np.random.default_rng(seed)
    post = rng.random((len(hyps), len(labels)))
    post[np.arange(len(hyps)), [labels.index(h) for h in hyps]] = 2.0
    post /= post.sum(1, keepdims=True)
    return Decoded(utts=[f"u{i:02d}" for i in range(len(hyps))], refs=refs, hyps=list(hyps), posteriors=post,
                   embeddings=rng.standard_normal((len(hyps), 5)).astype(np.float32), labels=list(labels))


def test_decode_dir_round_trip(tmp_path: Path) -> None:
    d = fake_decode(REFS, HYPS, MODEL_LABELS)
    out = decode_dir(tmp_path / "exp", "dev")
    write_decode_dir(out, "dev", d, "exp (best.pt)")
    p = read_predictions(out / "predictions.tsv")
    assert (p.utts, p.refs, p.hyps, p.labels) == (d.utts, REFS, HYPS, MODEL_LABELS)
    np.testing.assert_allclose(read_embeddings(out / "embeddings.scp", p.utts), d.embeddings, rtol=1e-6)
    assert not list(out.glob("*.tmp"))
    assert (out / "confusion.png").stat().st_size > 1000
    # an unlabelled set: predictions and embeddings only
    unlab = decode_dir(tmp_path / "exp", "eval", "avg_5.pt")
    assert unlab.name == "decode_eval_avg_5"
    write_decode_dir(unlab, "eval", fake_decode(None, HYPS, MODEL_LABELS))
    assert read_predictions(unlab / "predictions.tsv").refs is None
    assert sorted(f.name for f in unlab.iterdir()) == ["embeddings.ark", "embeddings.scp", "predictions.tsv"]
    # a damaged file is named
    bad = tmp_path / "bad.tsv"
    bad.write_text("utt\tref\thyp\tUS\nu1\tUS\n")
    with pytest.raises(DataDirError, match="bad.tsv: line 2 has 2 fields"):
        read_predictions(bad)


def test_results_table_rows(tmp_path: Path) -> None:
    a, b = tmp_path / "exp" / "a", tmp_path / "exp" / "b"
    write_decode_dir(decode_dir(a, "dev"), "dev", fake_decode(REFS, HYPS, MODEL_LABELS))
    write_decode_dir(decode_dir(a, "test"), "test", fake_decode(["US", "UK"], ["US", "US"], MODEL_LABELS))
    write_decode_dir(decode_dir(b, "dev"), "dev", fake_decode(REFS, REFS, MODEL_LABELS))
    (a / "results.json").write_text(json.dumps({"commit": "0123456789abcdef0123456789abcdef01234567-dirty"}))
    (b / "log").mkdir()
    (b / "log" / "train.log").write_text("# python -m accent.bin.train --config conf/sarnet/softmax.yaml "
                                         "--exp-dir exp/b\n# Started at ...\n")
    assert commit_of(a) == "0123456789-dirty" and commit_of(b) == "n/a"
    assert config_name(a) == "n/a" and config_name(b) == "conf/sarnet/softmax.yaml"
    lines = results_table([load_experiment(a), load_experiment(b)]).splitlines()
    cells = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]
    assert cells[0] == ["experiment", "config", "US", "UK", "CHN", "dev acc", "dev macro", "dev spk acc",
                        "test acc", "test spk acc", "checkpoint", "commit"]
    # fake_decode has no utt2spk: no speaker-level column values
    assert cells[2] == ["a", "n/a", "50.00", "50.00", "75.00", "60.00", "58.33", "-", "50.00", "-", "best.pt",
                        "0123456789-dirty"]
    assert cells[3] == ["b", "conf/sarnet/softmax.yaml", "100.00", "100.00", "100.00", "100.00", "100.00", "-", "-",
                        "-", "best.pt", "n/a"]
    with pytest.raises(FileNotFoundError, match="no such experiment"):
        load_experiment(tmp_path / "exp" / "missing")


def test_predictions_keep_tiny_posteriors_and_speakers_sum_log_posteriors(tmp_path: Path) -> None:
    from accent.evaluation.aggregate import group_decisions

    labels = ["US", "UK"]
    # a confident (circle-loss-like) model: posteriors that 4 decimals would round to exact zeros
    logp = np.log(np.array([[1 - 1e-30, 1e-30], [1 - 2e-9, 2e-9], [1e-12, 1 - 1e-12]]))
    d = Decoded(utts=["a-1", "a-2", "b-1"], refs=["US", "US", "UK"], hyps=["US", "US", "UK"],
                posteriors=np.exp(logp), embeddings=np.zeros((3, 2), np.float32), labels=labels,
                log_posteriors=logp, utt2spk={"a-1": "a", "a-2": "a", "b-1": "b"})
    out = decode_dir(tmp_path / "exp", "dev")
    write_decode_dir(out, "dev", d)
    p = read_predictions(out / "predictions.tsv")
    np.testing.assert_allclose(p.log_posteriors, logp, rtol=1e-7)
    g = group_decisions(p.utts, p.log_posteriors, {"a-1": "a", "a-2": "a", "b-1": "b"}, labels)
    assert g.groups == ["a", "b"] and g.hyps == ["US", "UK"] and g.members == [[0, 1], [2]]
    np.testing.assert_allclose(g.log_posteriors[0], logp[0] + logp[1])
    assert "| dev | spk  | 2 |" in summary_markdown({"dev": decode_scores(out)}, "x")
    with pytest.raises(ValueError, match="a has utterances labelled UK, US"):
        g.refs(["US", "UK", "UK"], "utt2spk")


def test_a_systems_own_speaker_scores_decide_its_speakers(tmp_path: Path) -> None:
    """A decode directory with speaker_scores.tsv (the phonotactic system's pooled counts) is scored
    per speaker on them, not on the summed log-posteriors; the file round-trips, a stale one goes
    when the system has none, and groups or columns that do not match are refused by name."""
    from accent.evaluation.aggregate import GROUP_SCORES, group_decisions, read_group_scores

    labels = ["US", "UK"]
    logp = np.log(np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]]))  # summed: speaker a is US
    own = {"a": np.array([-3.0, -0.1]), "b": np.array([-2.0, -0.2])}  # its own: a is UK
    d = Decoded(utts=["a-1", "a-2", "b-1"], refs=["UK", "UK", "UK"], hyps=["US", "US", "UK"],
                posteriors=np.exp(logp), embeddings=None, labels=labels, log_posteriors=logp,
                utt2spk={"a-1": "a", "a-2": "a", "b-1": "b"}, speaker_scores=own)
    out = tmp_path / "decode_dev"
    write_decode_dir(out, "dev", d)
    back = read_group_scores(out / GROUP_SCORES, labels)
    assert sorted(back) == ["a", "b"] and np.allclose(back["a"], own["a"])
    s = decode_scores(out)
    assert s.accuracy == pytest.approx(1 / 3) and s.speakers.accuracy == 1.0
    write_decode_dir(out, "dev", Decoded(**{**d.__dict__, "speaker_scores": None}))
    assert not (out / GROUP_SCORES).exists() and decode_scores(out).speakers.accuracy == 0.5
    with pytest.raises(ValueError, match="group scores and the groups.*'c'"):
        group_decisions(d.utts, logp, d.utt2spk, labels, group_scores={**own, "c": np.zeros(2)})
    (out / GROUP_SCORES).write_text("spk\tlogp_US\tlogp_XX\na\t0\t0\n")
    with pytest.raises(ValueError, match="speaker_scores.tsv: not a speaker-score file"):
        decode_scores(out)
