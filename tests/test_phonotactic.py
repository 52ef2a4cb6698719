"""The phonotactic system: phone recognition of real (espeak-ng) speech, the n-gram classifier and
its JSON form, score fusion with the dev-chosen weight."""

from __future__ import annotations

import json
import subprocess
import sys
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
    model = PhonotacticClassifier.fit([texts], labels, groups, ["US", "ES", "FR"])
    lp = model.log_posteriors([texts])
    np.testing.assert_allclose(np.exp(lp).sum(1), 1.0, rtol=1e-9)
    assert np.mean([["US", "ES", "FR"][k] == lab for k, lab in zip(lp.argmax(1), labels)]) > 0.9
    model.save(tmp_path / "model.json")
    again = PhonotacticClassifier.load(tmp_path / "model.json")
    np.testing.assert_allclose(again.log_posteriors([texts]), lp, atol=1e-12)
    assert ngrams("A B C", (1, 2)) == ["A", "B", "C", "A B", "B C"]
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="bad.json: not a phonotactic model"):
        PhonotacticClassifier.load(tmp_path / "bad.json")


def test_two_decodings_are_read_side_by_side(tmp_path):
    """Each stream has its own n-grams: a marker heard only in the second decoding is learnt, and
    the numpy scoring of the stored model equals scikit-learn's on the stacked TF-IDF (two accents:
    the binary case, which scored every utterance 50/50 before)."""
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)

    def draw():
        first, second, labels, groups = [], [], [], []
        for acc, marker in (("US", "R"), ("ES", "EH")):
            for spk in range(6):
                for _ in range(4):
                    first.append(" ".join(rng.choice(["AH", "T", "S", "N"], size=20)))  # no accent in it
                    second.append(" ".join(rng.choice(["AH", "T", "S", "N", marker, marker], size=20)))
                    labels.append(acc)
                    groups.append(f"{acc}-{spk}")
        return first, second, labels, groups

    first, second, labels, groups = draw()
    alone = PhonotacticClassifier.fit([first], labels, groups, ["US", "ES"])
    both = PhonotacticClassifier.fit([first, second], labels, groups, ["US", "ES"])
    new_first, new_second, new_labels, _ = draw()  # other speakers' utterances

    def accuracy(model, streams):
        return np.mean([["US", "ES"][k] == a for k, a in zip(model.log_posteriors(streams).argmax(1), new_labels)])

    assert accuracy(alone, [new_first]) < 0.75 and accuracy(both, [new_first, new_second]) > 0.95
    assert both.num_streams == 2 and set(both.vocabularies[1]) - set(both.vocabularies[0]) >= {"R", "EH"}
    x = hstack([TfidfVectorizer(analyzer=lambda t: ngrams(t, (1, 3)), sublinear_tf=True, min_df=2).fit_transform(s)
                for s in (first, second)]).toarray()
    np.testing.assert_allclose(both.features([first, second]), x, atol=1e-12)
    # two accents: scikit-learn's one-row binary model, stored as two softmax rows
    lr = LogisticRegression(C=both.c, max_iter=5000).fit(x, [["US", "ES"].index(a) for a in labels])
    np.testing.assert_allclose(both.log_posteriors([first, second]), lr.predict_log_proba(x), atol=1e-9)
    both.save(tmp_path / "model.json")
    np.testing.assert_allclose(PhonotacticClassifier.load(tmp_path / "model.json").log_posteriors([first, second]),
                               both.log_posteriors([first, second]), atol=1e-12)
    with pytest.raises(ValueError, match="expected 2 phone stream"):
        both.log_posteriors([first])
    with pytest.raises(ValueError, match="different lengths"):
        PhonotacticClassifier.fit([first, second[:-1]], labels, groups, ["US", "ES"])


def test_speaking_rate_is_learnt_stored_and_needs_durations(tmp_path):
    """Accents that differ only in how fast their speakers talk: the n-grams (length-normalised) cannot
    tell them apart, the speaking-rate columns can; the stored model scores as the fitted one."""
    from accent.phonotactic.classifier import speaking_rates

    rng = np.random.default_rng(3)

    def draw():
        texts, durs, labels, groups = [], [], [], []
        for acc, phones_per_s in (("US", 12.0), ("ES", 8.0)):
            for spk in range(8):
                for _ in range(4):
                    texts.append(" ".join(rng.choice(["AH", "T", "S", "N", "IY"], size=40)))
                    durs.append(40 / (phones_per_s * rng.uniform(0.9, 1.1)))
                    labels.append(acc)
                    groups.append(f"{acc}-{spk}")
        return texts, durs, labels, groups

    texts, durs, labels, groups = draw()
    plain = PhonotacticClassifier.fit([texts], labels, groups, ["US", "ES"])
    rated = PhonotacticClassifier.fit([texts], labels, groups, ["US", "ES"], durations=durs)
    assert not plain.uses_durations and rated.uses_durations
    new_texts, new_durs, new_labels, _ = draw()

    def accuracy(model, durations=None):
        lp = model.log_posteriors([new_texts], durations)
        return np.mean([["US", "ES"][k] == a for k, a in zip(lp.argmax(1), new_labels)])

    assert accuracy(plain) < 0.75 and accuracy(rated, new_durs) > 0.95
    np.testing.assert_allclose(speaking_rates([["A B C", ""]], [2.0, 0.5]), [[np.log(2.0)], [np.log(2.0)]])
    rated.save(tmp_path / "model.json")
    again = PhonotacticClassifier.load(tmp_path / "model.json")
    np.testing.assert_allclose(again.log_posteriors([new_texts], new_durs), rated.log_posteriors([new_texts], new_durs),
                               atol=1e-12)
    with pytest.raises(ValueError, match="give the utterances' durations"):
        again.log_posteriors([new_texts])
    with pytest.raises(ValueError, match="1 utterance.*not positive"):
        rated.log_posteriors([new_texts], [0.0] + new_durs[1:])
    with pytest.raises(ValueError, match="expected 64 durations"):
        rated.log_posteriors([new_texts], new_durs[1:])


def test_utterance_durations_are_read_from_utt2dur(tmp_path):
    from accent.data.kaldi_dir import DataDirError, read_durations

    with pytest.raises(DataDirError, match="utt2dur: missing"):
        read_durations(tmp_path, ["u1"])
    (tmp_path / "utt2dur").write_text("u1 2.5\nu2 abc\nu3 0\n")
    assert read_durations(tmp_path, ["u1"]) == [2.5]
    with pytest.raises(DataDirError, match="utt2dur: u2: duration 'abc' is not a number"):
        read_durations(tmp_path, ["u1", "u2"])
    with pytest.raises(DataDirError, match="utt2dur: u3: duration 0 is not positive"):
        read_durations(tmp_path, ["u3"])
    with pytest.raises(DataDirError, match="no entry for 1 utterances of wav.scp, e.g. u4"):
        read_durations(tmp_path, ["u1", "u4"])


def test_decodings_at_two_language_weights_are_written_and_checked(speech, tmp_path):
    from accent.data.kaldi_dir import DataDirError
    from accent.phonotactic.experiment import decode_phones, read_phones

    d = tmp_path / "data"
    d.mkdir()
    (d / "wav.scp").write_text(f"u1 {speech}\nu2 {speech}\n")
    outs = decode_phones(d, 1, (2.0, 0.5))
    assert [o.name for o in outs] == ["text.phone_rec_lw2", "text.phone_rec_lw0.5"]
    strong, weak = read_phones(d, (2.0, 0.5))
    assert set(strong) == set(weak) == {"u1", "u2"} and strong["u1"] == strong["u2"]
    assert strong["u1"] != weak["u1"]  # the weights hear different phones
    assert strong["u1"].split() == PhoneRecognizer(2.0).recognize(*sf.read(speech, dtype="float32"))
    with pytest.raises(DataDirError, match="text.phone_rec_lw1: missing"):
        read_phones(d, (2.0, 1.0))
    (d / "text.phone_rec_lw0.5").write_text("u1 AH\n")
    with pytest.raises(DataDirError, match="text.phone_rec_lw0.5: other utterances"):
        read_phones(d, (2.0, 0.5))


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


def test_cross_validation_keeps_speakers_apart_and_ranks_decodings(tmp_path):
    """bench_phonotactic on a data dir whose decodings are written: the stream with the accent in it
    wins, so does the speaking rate when only it differs, and no speaker is split across folds."""
    from accent.phonotactic.cross_validation import speaker_folds

    speakers = [f"s{i // 3}" for i in range(60)]
    fold = speaker_folds(speakers, 5, 0)
    assert all(len({fold[i] for i, s in enumerate(speakers) if s == spk}) == 1 for spk in set(speakers))
    assert sorted(np.bincount(fold)) == [12] * 5 and not np.array_equal(fold, speaker_folds(speakers, 5, 1))
    rng = np.random.default_rng(2)
    d = tmp_path / "train"
    d.mkdir()
    lines = {"wav.scp": [], "utt2accent": [], "utt2spk": [], "utt2dur": [], "text.phone_rec_lw2": [],
             "text.phone_rec_lw0.5": []}
    for spk in range(20):
        acc, marker = (("US", "R"), ("ES", "EH"))[spk % 2]
        for k in range(3):
            u = f"{acc}-{spk:02d}-{k}"
            lines["wav.scp"].append(f"{u} /nonexistent.wav")  # never read: both decodings are there
            lines["utt2accent"].append(f"{u} {acc}")
            lines["utt2spk"].append(f"{u} {acc}-{spk:02d}")
            # US speakers talk faster: an accent that only the speaking rate shows in decoding 2
            lines["utt2dur"].append(f"{u} {(2.0 if acc == 'US' else 3.0) * rng.uniform(0.9, 1.1):.2f}")
            lines["text.phone_rec_lw2"].append(f"{u} " + " ".join(rng.choice(["AH", "T", "S", "N"], size=20)))
            lines["text.phone_rec_lw0.5"].append(f"{u} " + " ".join(rng.choice(["AH", "T", "S", marker, marker], size=20)))
    for name, ls in lines.items():
        (d / name).write_text("".join(f"{x}\n" for x in sorted(ls)))
    out = subprocess.run([sys.executable, "-m", "accent.bin.bench_phonotactic", "--data", str(d), "--systems", "2",
                          "2 0.5", "--rate-scales", "0", "1", "--folds", "3", "--repeats", "2"],
                         check=True, capture_output=True, text=True).stdout
    rows = {line.split(" | ")[0].strip("| "): line for line in out.splitlines() if line.startswith("| ") and "±" in line}
    assert set(rows) == {"2, rate 0", "2, rate 1", "2 + 0.5, rate 0", "2 + 0.5, rate 1"}
    assert "60 utterances, 20 speakers" in out
    seg = {k: float(v.split(" | ")[1].split(" ±")[0]) for k, v in rows.items()}
    assert seg["2, rate 0"] < 75 and seg["2, rate 1"] > 90 and seg["2 + 0.5, rate 0"] > 90


def test_a_speaker_is_scored_on_its_pooled_counts(tmp_path):
    """Each speaker's score is the log-posterior of its utterances' added-up counts and seconds,
    once per utterance: a unigram model scores a pooled speaker as it scores the one utterance of
    all its phones and seconds, and a one-utterance speaker as that utterance."""
    rng = np.random.default_rng(5)
    texts, labels, groups, durs = [], [], [], []
    for acc, marker in (("US", "R"), ("ES", "EH")):
        for spk in range(10):
            for _ in range(6):
                phones = list(rng.choice(["AH", "T", "S", "N", "IY", "K"], size=6))
                if rng.random() < 0.5:
                    phones[rng.integers(6)] = marker
                texts.append(" ".join(phones))
                labels.append(acc)
                groups.append(f"{acc}-{spk}")
                durs.append(float(rng.uniform(0.5, 1.0)))
    unigram = PhonotacticClassifier.fit([texts], labels, groups, ["US", "ES"], orders=(1, 1), durations=durs)
    members = [i for i, g in enumerate(groups) if g == "US-0"]
    scores = unigram.speaker_scores([texts], groups, durs)
    assert sorted(scores) == sorted(set(groups))
    joined = unigram.log_posteriors([[" ".join(texts[i] for i in members)]], [sum(durs[i] for i in members)])
    np.testing.assert_allclose(scores["US-0"], len(members) * joined[0], rtol=1e-9)
    one = unigram.speaker_scores([texts[:1]], ["x"], durs[:1])
    np.testing.assert_allclose(one["x"], unigram.log_posteriors([texts[:1]], durs[:1])[0], rtol=1e-9)

