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
