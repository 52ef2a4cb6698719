"""The phonotactic system: phone recognition of real (espeak-ng) speech, the n-gram classifier and
its JSON form, score fusion with the dev-chosen weight."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


from accent.evaluation.predictions import Decoded, write_decode_dir
from accent.evaluation.fusion import fuse_experiments
from accent.phonotactic.classifier import PhonotacticClassifier, ngrams
from accent.phonotactic.recognizer import NON_PHONES, PhoneRecognizer


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("speech") / "s.wav"
    subprocess.run(["espeak-ng", "-w", str(path), "Please call Stella. Ask her to bring these things."], check=True)
    return path


def test_phone_recognizer_hears_phones_at_any_rate(speech):
    from scipy.signal import resample_poly

    x, rate = sf.read(speech, dtype="float32")  # espeak-ng writes 22.05 kHz: resampled to 16 kHz
    rec = PhoneRecognizer()
    phones = rec.recognize(x, rate)
    assert len(phones) > 15 and not set(phones) & NON_PHONES
    assert phones == rec.recognize(x, rate)  # deterministic
    at_8k = rec.recognize(resample_poly(x, 160, 441).astype(np.float32), 8000)
    assert len(at_8k) > 10
    with pytest.raises(ValueError, match="mono"):
        rec.recognize(np.zeros((100, 2), dtype=np.float32), 16000)


def test_ngram_classifier_learns_accent_phones_and_reloads(tmp_path):
    rng = np.random.default_rng(0)
    common = ["AH", "T", "S", "N", "IY", "K"]
    marker = {"US": ["R", "ER"], "FR": ["Z", "EH"], "ES": ["EH", "S", "IY"]}
    texts, labels, groups = [], [], []
    for acc, extra in marker.items():
        for spk in range(6):
            for _ in range(4):
                texts.append(" ".join(rng.choice(common + extra * 2, size=30)))
                labels.append(acc)
                groups.append(f"{acc}-{spk}")
    model = PhonotacticClassifier.fit(texts, labels, groups, ["US", "ES", "FR"])
    lp = model.log_posteriors(texts)
    np.testing.assert_allclose(np.exp(lp).sum(1), 1.0, rtol=1e-9)
    assert np.mean([["US", "ES", "FR"][k] == lab for k, lab in zip(lp.argmax(1), labels)]) > 0.9
    model.save(tmp_path / "model.json")
    again = PhonotacticClassifier.load(tmp_path / "model.json")
    np.testing.assert_allclose(again.log_posteriors(texts), lp, atol=1e-12)
    assert ngrams("A B C", (1, 2)) == ["A", "B", "C", "A B", "B C"]
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="bad.json: not a phonotactic model"):
        PhonotacticClassifier.load(tmp_path / "bad.json")


def scored_system(exp: Path, lp: np.ndarray, utts, refs, labels):
    exp.mkdir(parents=True)
    for name in ("dev", "test"):
        write_decode_dir(exp / f"decode_{name}", name, Decoded(
            utts=utts, refs=refs, hyps=[labels[k] for k in lp.argmax(1)], posteriors=np.exp(lp), embeddings=None,
            labels=labels, log_posteriors=lp, utt2spk={u: u.split("-")[0] for u in utts}))
    (exp / "results.json").write_text(json.dumps({"params": {"trainable": 10}, "train_time_s": 60.0}))


def test_fusion_weight_is_chosen_on_dev_and_helps(tmp_path):
    labels = ["A", "B"]
    n = 40
    utts = [f"s{i // 4}-u{i}" for i in range(n)]
    refs = [labels[(i // 4) % 2] for i in range(n)]
    y = np.array([labels.index(r) for r in refs])
    rng = np.random.default_rng(1)

    def noisy(strength):  # log-posteriors that lean to the truth by ``strength`` plus noise
        z = rng.normal(size=(n, 2))
        z[np.arange(n), y] += strength
        return z - np.log(np.exp(z).sum(1, keepdims=True))

    a, b = noisy(0.8), noisy(0.8)
    scored_system(tmp_path / "a", a, utts, refs, labels)
    scored_system(tmp_path / "b", b, utts, refs, labels)
    weights = fuse_experiments([tmp_path / "a", tmp_path / "b"], tmp_path / "ab", ["dev", "test"])
    assert weights["a"] == 1.0 and weights["b"] > 0
    from accent.evaluation.predictions import decode_scores

    fused = decode_scores(tmp_path / "ab" / "decode_dev")
    single = decode_scores(tmp_path / "a" / "decode_dev")
    assert fused.accuracy >= single.accuracy and fused.speakers is not None
    res = json.loads((tmp_path / "ab" / "results.json").read_text())
    assert res["train_time_s"] == 120.0 and res["weights"] == [1.0, weights["b"]]
    scored_system(tmp_path / "d", a[:20], utts[:20], refs[:20], labels)
    with pytest.raises(Exception, match="other utterances"):
        fuse_experiments([tmp_path / "a", tmp_path / "d"], tmp_path / "ad", ["dev"])
