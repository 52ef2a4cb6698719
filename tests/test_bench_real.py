"""The real-corpus benchmark end to end on generated audio in SAA-dev's layout: a seeded dev split of
the train speakers, run.sh stages 1-6 with held-out test speakers and no LibriSpeech, the table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from accent.data.kaldi_dir import read_list, read_mapping
from accent.evaluation.real_benchmark import benchmark, default_egs, dev_split

pytestmark = pytest.mark.slow  # the real-corpus benchmark end to end

ACCS = ["US", "ES", "FR"]


VOICES = ["en-us", "en-gb", "en-sc"]
SENTENCES = ["Please call Stella.", "Ask her to bring these things with her from the store.",
             "Six spoons of fresh snow peas, five thick slabs of blue cheese."]


def speech(accent: int, speaker: int, i: int) -> np.ndarray:
    """espeak-ng speech, one voice per 'accent' and a pitch per speaker, at 16 kHz."""
    import subprocess

    from scipy.signal import resample_poly

    wav = subprocess.run(["espeak-ng", "-v", VOICES[accent], "-p", str(30 + 10 * speaker), "--stdout",
                          SENTENCES[i % len(SENTENCES)]], check=True, capture_output=True).stdout
    import io

    x, rate = sf.read(io.BytesIO(wav), dtype="float32")
    return resample_poly(x, 160, rate // 100).astype(np.float32)


def saa_like_root(root: Path, speakers: int = 4, utts: int = 3) -> Path:
    """<ACC>/<SPK>/<SPK>S<NNNN>.{wav,txt} (transcripts '<unk>', as SAA-dev's segments) and
    lists/{train,test}_spk.txt: the last speaker of each accent is a test speaker."""
    train, test = [], []
    seed = 0
    for a, acc in enumerate(ACCS):
        for s in range(speakers):
            spk = f"G7{a}{s:03d}"
            (test if s == speakers - 1 else train).append(f"{acc}-{spk}")
            for i in range(utts):
                seed += 1
                d = root / acc / spk
                d.mkdir(parents=True, exist_ok=True)
                sf.write(d / f"{spk}S{1001 + i}.wav", speech(a, s, i), 16000, subtype="PCM_16")
                (d / f"{spk}S{1001 + i}.txt").write_text("<unk>")
    (root / "lists").mkdir()
    (root / "lists" / "train_spk.txt").write_text("".join(f"{s}\n" for s in train))
    (root / "lists" / "test_spk.txt").write_text("".join(f"{s}\n" for s in test))
    return root


def test_dev_split_is_seeded_per_accent():
    spks = [f"{a}-G{i}" for a in ACCS for i in range(10)]
    d0 = dev_split(spks, 2, 0)
    assert d0 == dev_split(spks, 2, 0) and d0 != dev_split(spks, 2, 1)
    assert sorted({s.split("-")[0] for s in d0}) == sorted(ACCS) and len(d0) == 6


def test_benchmark_runs_the_recipe_on_held_out_speakers(tmp_path):
    root = saa_like_root(tmp_path / "corpus")
    tiny = ("--override train.epochs=2 model.encoder.channels=16 model.encoder.mfa_dim=32 "
            "model.encoder.res2net_scale=4 model.embed_dim=16 data.crop.batch_size=4 data.num_workers=0 "
            "data.augment.reverb.num_rirs=2")
    # a second config (any path), so that stage 6 also fuses every system together (exp/fusion)
    second = tmp_path / "ecapa_b.yaml"
    second.write_text(f"base: {default_egs() / 'conf/real/ecapa_c128.yaml'}\nmodel.head.label_smoothing: 0.0\n")
    text = benchmark(root, ["conf/real/ecapa_c128.yaml", str(second)], [0], tmp_path / "work", default_egs(),
                     per_accent=1, train_opts=tiny, refit=True)
    seed = tmp_path / "work" / "seed0"
    test_spk = set(read_mapping(seed / "data" / "test" / "utt2spk").values())
    dev_spk = set(read_mapping(seed / "data" / "dev" / "utt2spk").values())
    train_spk = set(read_mapping(seed / "data" / "train" / "utt2spk").values())
    assert test_spk == set(read_list(root / "lists" / "test_spk.txt"))
    assert dev_spk == set(read_list(seed / "dev_spk.list")) and len(dev_spk) == 3
    assert not (train_spk & (test_spk | dev_spk))
    assert not (seed / "data" / "libri_train").exists()  # nothing needs LibriSpeech: none prepared
    assert not (seed / "downloads").exists()
    rows = json.loads((tmp_path / "work" / "bench_real.json").read_text())["rows"]
    assert [r["system"] for r in rows] == ["pooled log-mel + LR", "phonotactic", "real_ecapa_c128", "ecapa_b",
                                           "real_ecapa_c128_prlm_fusion", "ecapa_b_prlm_fusion", "fusion",
                                           "phonotactic_refit", "real_ecapa_c128_refit", "ecapa_b_refit",
                                           "real_ecapa_c128_refit_prlm_fusion", "ecapa_b_refit_prlm_fusion",
                                           "fusion_refit"]
    for r in rows:
        refitted = r["system"].endswith(("_refit", "_refit_prlm_fusion"))
        # a refitted system trained on the dev speakers: scored on test only
        assert refitted == ("dev seg" not in r["values"])
        for key in ("test seg", "test spk") if refitted else ("dev seg", "dev spk", "test seg", "test spk"):
            assert len(r["values"][key]) == 1 and 0.0 <= r["values"][key][0] <= 100.0
    assert rows[2]["params"] > 0 and 0 < rows[2]["minutes"][0] < 10
    assert "real_ecapa_c128_prlm_fusion" in text and "test spk" in text
    # per-speaker scores: 3 test speakers, so a multiple of 1/3
    for r in rows:
        assert np.isclose(r["values"]["test spk"][0] * 3 / 100, round(r["values"]["test spk"][0] * 3 / 100))
    # the phonotactic system decoded every set; the fusion's dev weight is recorded
    assert all((seed / "data" / x / f"text.phone_rec_lw{w}").is_file() for x in ("train", "dev", "test") for w in ("2", "0.5"))
    phon = json.loads((seed / "exp" / "phonotactic" / "results.json").read_text())
    assert phon["language_weights"] == [2.0, 0.5] and phon["rate_scale"] == 1.0
    assert len(json.loads((seed / "exp" / "phonotactic" / "model.json").read_text())["rate"]["mean"]) == 2
    fusion = json.loads((seed / "exp" / "real_ecapa_c128_prlm_fusion" / "results.json").read_text())
    assert fusion["weights"][0] == 1.0 and fusion["weights_chosen_on"] == "dev"
    every = json.loads((seed / "exp" / "fusion" / "results.json").read_text())
    assert [Path(s).name for s in every["systems"]] == ["real_ecapa_c128", "ecapa_b", "phonotactic"]
    assert len(every["weights"]) == 3 and every["weights_chosen_on"] == "dev"
    # the refit: every train speaker, dev's too; the dev-split fusions' weights
    refit_spk = set(read_mapping(seed / "data" / "train_dev" / "utt2spk").values())
    assert refit_spk == train_spk | dev_spk
    assert (seed / "exp" / "real_ecapa_c128_refit" / "avg_4.pt").is_file()
    assert not (seed / "exp" / "real_ecapa_c128_refit" / "decode_dev_avg_4").exists()
    for refitted, chosen in (("real_ecapa_c128_refit_prlm_fusion", "real_ecapa_c128_prlm_fusion"),
                             ("fusion_refit", "fusion")):
        r = json.loads((seed / "exp" / refitted / "results.json").read_text())
        c = json.loads((seed / "exp" / chosen / "results.json").read_text())
        assert r["weights"] == c["weights"] and r["weights_chosen_on"] == f"dev of exp/{chosen}"
    assert (seed / "exp" / "phonotactic_refit" / "decode_test" / "speaker_scores.tsv").is_file()
    assert "| real_ecapa_c128_refit_prlm_fusion |" in (seed / "RESULTS.md").read_text()
