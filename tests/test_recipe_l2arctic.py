"""egs/l2arctic: the speaker-disjoint folds, stage 1 through lhotse on a generated demo corpus (44.1 kHz
WAVs resampled by sox pipes), bad layouts named, and the recipe end to end on one fold (slow)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import soundfile as sf

from accent.data.audio import read_wav_scp_entry
from accent.data.kaldi_dir import read_list, read_mapping, validate_data_dir
from accent.data.l2arctic import folds, prepare_l2arctic, speaker_l1
from accent.data.problems import CorpusError
from accent.demo.config import DemoConfig
from accent.demo.l2arctic import make_demo_l2arctic

from conftest import egs_copy, run_egs

REPO = Path(__file__).resolve().parent.parent
RECIPE = REPO / "egs" / "l2arctic"
L1S = ["Arabic", "Chinese", "Hindi", "Korean", "Spanish", "Vietnamese"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return make_demo_l2arctic(tmp_path_factory.mktemp("l2"), DemoConfig(l2_utts_per_speaker=2, num_jobs=2))


@pytest.fixture(scope="module")
def prepared(corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data")
    prepare_l2arctic(corpus, out, out / "manifests", num_jobs=2)
    return out


def test_folds_test_every_speaker_once() -> None:
    spk2l1 = speaker_l1()
    assert len(spk2l1) == 24 and sorted(set(spk2l1.values())) == L1S
    assignments = folds(spk2l1)
    assert len(assignments) == 4
    for assign in assignments:
        for name, per_l1 in (("test", 1), ("dev", 1), ("train", 2)):
            spks = [s for s, x in assign.items() if x == name]
            assert sorted(spk2l1[s] for s in spks) == sorted(L1S * per_l1), name
    tested = [s for assign in assignments for s, x in assign.items() if x == "test"]
    assert sorted(tested) == sorted(spk2l1)  # each speaker tested in exactly one fold
    assert [a["aba"] for a in assignments] == ["test", "train", "train", "dev"]  # ABA < SKA < YBAA < ZHAA
    with pytest.raises(CorpusError, match="Arabic: fewer than 3 speakers"):
        folds({"aba": "Arabic", "ska": "Arabic", "bwc": "Chinese", "lxc": "Chinese", "ncc": "Chinese"})


def test_the_demo_corpus_has_the_release_layout(corpus) -> None:
    assert sorted(p.name for p in corpus.iterdir() if p.is_dir()) == sorted(s.upper() for s in speaker_l1())
    info = sf.info(str(corpus / "ABA" / "wav" / "arctic_a0001.wav"))
    assert info.samplerate == 44100 and info.channels == 1 and info.subtype == "PCM_16"
    assert (corpus / "ABA" / "transcript" / "arctic_a0001.txt").read_text().strip()
    assert (corpus / "ABA" / "annotation" / "arctic_a0001.TextGrid").read_text().startswith('File type = "ooTextFile"')
    # ABA did not read the last prompt, the others did
    assert not (corpus / "ABA" / "wav" / "arctic_a0002.wav").exists() and (corpus / "SKA" / "wav" / "arctic_a0002.wav").exists()


def test_stage1_through_lhotse(prepared, corpus) -> None:
    all_dir = prepared / "all"
    assert validate_data_dir(all_dir) == 24 * 2 - 1
    assert read_list(all_dir / "accents") == L1S
    utt2accent, utt2spk = read_mapping(all_dir / "utt2accent"), read_mapping(all_dir / "utt2spk")
    assert {utt2spk[u]: utt2accent[u] for u in utt2spk} == speaker_l1()
    assert read_mapping(all_dir / "text")["ska-arctic_a0001"] == read_mapping(all_dir / "text")["aba-arctic_a0001"]
    # 44.1 kHz: every wav.scp entry a sox pipe to 16 kHz, listed in converted_audio
    wav_scp = read_mapping(all_dir / "wav.scp")
    assert set(read_mapping(all_dir / "converted_audio")) == set(wav_scp)
    samples, rate = read_wav_scp_entry(wav_scp["aba-arctic_a0001"])
    src = sf.info(str(corpus / "ABA" / "wav" / "arctic_a0001.wav"))
    assert rate == 16000 and abs(len(samples) / rate - src.duration) < 0.01
    for k in range(1, 5):
        lists = {n: read_list(prepared / "local" / f"fold{k}" / f"{n}.spk") for n in ("train", "dev", "test")}
        assert (len(lists["train"]), len(lists["dev"]), len(lists["test"])) == (12, 6, 6)


def test_bad_layouts_are_named(tmp_path, corpus) -> None:
    root = tmp_path / "l2arctic"
    shutil.copytree(corpus, root)
    (root / "README.txt").write_text("L2-ARCTIC v5.0\n")
    (root / "HKK" / "transcript" / "arctic_a0001.txt").unlink()
    with pytest.raises(CorpusError) as e:
        prepare_l2arctic(root, tmp_path / "data", tmp_path / "manifests", num_jobs=1)
    assert f"{root / 'README.txt'}: a .txt file outside <SPK>/transcript/" in str(e.value)
    assert f"{root / 'HKK' / 'wav' / 'arctic_a0001.wav'}: audio without a transcript" in str(e.value)
    # --skip-bad: lhotse reads a view without them; they are listed
    prepare_l2arctic(root, tmp_path / "data", tmp_path / "manifests", skip_bad=True, num_jobs=1)
    assert validate_data_dir(tmp_path / "data" / "all") == 24 * 2 - 2
    assert "hkk-arctic_a0001" in read_mapping(tmp_path / "data" / "all" / "bad_utts")


@pytest.mark.slow
def test_recipe_end_to_end_on_one_fold(tmp_path) -> None:
    recipe = egs_copy(tmp_path, "l2arctic")
    r = run_egs(recipe, "--nj", "2", "--plots", "false", "--folds", "1", "--demo-utts-per-speaker", "3")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    for name in ("train", "dev", "test"):
        d = recipe / "data" / "fold1" / name
        validate_data_dir(d)
        assert sorted(set(read_mapping(d / "utt2spk").values())) == read_list(recipe / "data/local/fold1" / f"{name}.spk")
        assert (d / "feats.scp").is_file()
    rows = [line for line in (recipe / "RESULTS.md").read_text().splitlines() if line.startswith("| demo_ecapa_fold1 ")]
    assert len(rows) == 1
    pooled = (recipe / "exp/demo_ecapa_folds.md").read_text()
    assert "| demo_ecapa_fold1 | " in pooled and "| **pooled** | " in pooled and "| 6 |" in pooled
    assert (recipe / "exp/demo_ecapa_fold1/export/model.torchscript.pt").stat().st_size > 0
