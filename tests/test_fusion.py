"""Score-level fusion (accent.evaluation.fusion) of several systems: weights chosen on dev only, the
fused decode directories and results.json, and the refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from accent.data.kaldi_dir import DataDirError
from accent.evaluation.fusion import fuse_experiments
from accent.evaluation.predictions import Decoded, read_predictions, write_decode_dir

LABELS = ["AR", "ES", "US"]


def system(exp, quality: float, seed: int, flip_test: bool = False):
    """A scored experiment whose log-posteriors favour the truth by ``quality`` (0: noise);
    ``flip_test``: on test it favours a wrong accent instead (dev cannot see that)."""
    rng = np.random.default_rng(seed)
    for s, n in (("dev", 60), ("test", 30)):
        truth = np.arange(n) % 3
        z = rng.normal(size=(n, 3))
        target = (truth + 1) % 3 if (flip_test and s == "test") else truth
        z[np.arange(n), target] += quality
        lp = z - np.log(np.exp(z).sum(1, keepdims=True))
        utts = [f"{LABELS[t]}-S{i % 6}-u{i:03d}" for i, t in enumerate(truth)]
        write_decode_dir(exp / f"decode_{s}", s, Decoded(
            utts=utts, refs=[LABELS[t] for t in truth], hyps=[LABELS[int(k)] for k in lp.argmax(1)],
            posteriors=np.exp(lp), embeddings=None, labels=LABELS, log_posteriors=lp,
            utt2spk={u: u.rsplit("-", 1)[0] for u in utts}))
    (exp / "results.json").write_text(json.dumps({"train_time_s": 60.0, "params": {"trainable": 10}}))
    return exp


def accuracy(exp, s):
    p = read_predictions(exp / f"decode_{s}" / "predictions.tsv")
    return np.mean([r == h for r, h in zip(p.refs, p.hyps)])


def test_three_systems_noise_gets_no_weight_and_test_never_chooses(tmp_path):
    a = system(tmp_path / "a", 1.5, 0)
    noise = system(tmp_path / "noise", 0.0, 1)
    b = system(tmp_path / "b", 1.5, 2, flip_test=True)  # good on dev, wrong on test
    weights = fuse_experiments([a, noise, b], tmp_path / "fusion", ["dev", "test"])
    assert list(weights) == ["a", "noise", "b"]
    assert weights["a"] == 1.0 and weights["noise"] == 0.0 and weights["b"] > 0  # chosen on dev
    out = tmp_path / "fusion"
    assert accuracy(out, "dev") > max(accuracy(a, "dev"), accuracy(b, "dev"))
    assert accuracy(out, "test") < accuracy(a, "test")  # test did not choose b's weight
    res = json.loads((out / "results.json").read_text())
    assert res["systems"] == [str(a), str(noise), str(b)] and res["weights_chosen_on"] == "dev"
    assert res["train_time_s"] == 180.0 and (out / ".done").is_file()
    p = read_predictions(out / "decode_test" / "predictions.tsv")
    np.testing.assert_allclose(np.exp(p.log_posteriors).sum(1), 1.0, atol=1e-6)
    assert (out / "decode_test" / "utt2spk").is_file()


def test_systems_on_other_utterances_are_refused(tmp_path):
    a = system(tmp_path / "a", 1.0, 0)
    other = system(tmp_path / "other", 1.0, 1)
    tsv = other / "decode_test" / "predictions.tsv"
    lines = tsv.read_text().splitlines()
    tsv.write_text("\n".join(lines[:-1]) + "\n")  # one utterance fewer
    with pytest.raises(DataDirError, match="other utterances or labels"):
        fuse_experiments([a, other], tmp_path / "fusion", ["dev", "test"])
    with pytest.raises(ValueError, match="two systems or more"):
        fuse_experiments([a], tmp_path / "fusion", ["dev"])


def test_a_systems_own_speaker_scores_enter_the_fused_speaker_scores(tmp_path):
    """The fused score of a speaker is the weighted sum of each system's speaker score: the summed
    log-posteriors of one, the own speaker_scores.tsv of the other (the phonotactic system's)."""
    from accent.evaluation.aggregate import GROUP_SCORES, group_decisions, read_group_scores
    from accent.evaluation.predictions import decode_scores

    a = system(tmp_path / "a", 1.0, 0)
    b = system(tmp_path / "b", 1.0, 1)
    own = {}
    for s in ("dev", "test"):  # b's own speaker scores: each speaker's truth, strongly
        p = read_predictions(b / f"decode_{s}" / "predictions.tsv")
        spk = {u: u.rsplit("-", 1)[0] for u in p.utts}
        own[s] = {g: np.where(np.array(LABELS) == g.split("-")[0], 0.0, -50.0) for g in set(spk.values())}
        write_decode_dir(b / f"decode_{s}", s, Decoded(
            utts=p.utts, refs=p.refs, hyps=p.hyps, posteriors=np.exp(p.log_posteriors), embeddings=None,
            labels=p.labels, log_posteriors=p.log_posteriors, utt2spk=spk, speaker_scores=own[s]))
    weights = fuse_experiments([a, b], tmp_path / "fusion", ["dev", "test"])
    out = tmp_path / "fusion" / "decode_test"
    fused = read_group_scores(out / GROUP_SCORES, LABELS)
    pa = read_predictions(a / "decode_test" / "predictions.tsv")
    ga = group_decisions(pa.utts, pa.log_posteriors, {u: u.rsplit("-", 1)[0] for u in pa.utts}, LABELS)
    for g, summed in zip(ga.groups, ga.log_posteriors):
        np.testing.assert_allclose(fused[g], summed + weights["b"] * own["test"][g], rtol=1e-6)
    assert weights["b"] > 0 and decode_scores(out).speakers.accuracy == 1.0
    assert decode_scores(a / "decode_test").speakers.accuracy < 1.0
    weights = fuse_experiments([a, tmp_path / "a"], tmp_path / "plain", ["dev", "test"])
    assert not (tmp_path / "plain" / "decode_test" / GROUP_SCORES).exists()  # sums only: nothing of its own


def test_refitted_systems_take_the_weights_of_their_dev_split_fusion(tmp_path):
    """--weights-from: the weights of an earlier fusion of as many systems, no dev set needed (the
    refitted systems' dev speakers are training speakers); a count that differs is refused."""
    a, b = system(tmp_path / "a", 1.5, 0), system(tmp_path / "b", 1.0, 2)
    chosen = fuse_experiments([a, b], tmp_path / "ab", ["dev", "test"])
    taken = fuse_experiments([a, b], tmp_path / "refit", ["test"], weights_from=tmp_path / "ab")
    assert taken == chosen and not (tmp_path / "refit" / "decode_dev").exists()
    res = json.loads((tmp_path / "refit" / "results.json").read_text())
    assert res["weights_chosen_on"] == f"dev of {tmp_path / 'ab'}"
    np.testing.assert_allclose(read_predictions(tmp_path / "refit" / "decode_test" / "predictions.tsv").log_posteriors,
                               read_predictions(tmp_path / "ab" / "decode_test" / "predictions.tsv").log_posteriors)
    with pytest.raises(ValueError, match="2 weights for 3 systems"):
        fuse_experiments([a, b, a], tmp_path / "x", ["test"], weights_from=tmp_path / "ab")
    with pytest.raises(FileNotFoundError, match="results.json: not found"):
        fuse_experiments([a, b], tmp_path / "x", ["test"], weights_from=tmp_path / "nothing")
