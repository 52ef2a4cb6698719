"""egs/aesrc/run.sh stages 0-3 end to end on a tiny demo corpus: what `make demo` runs, smaller."""

import os
import subprocess
import sys
import time
from pathlib import Path

import kaldiio
import pytest
import yaml

from accent.data.kaldi_dir import read_list, read_mapping, validate_data_dir
from accent.features.fbank import FbankConfig
from accent.text.g2p import PHONES
from conftest import TINY_RECIPE as TINY, processes_in, recipe_copy, run_recipe, tone, wait_for

pytestmark = pytest.mark.slow  # run.sh stages 0-3 on the demo corpora

SETS = ("train", "dev", "test", "libri_train", "libri_dev")


@pytest.fixture(scope="module")
def recipe(tmp_path_factory) -> Path:
    recipe = recipe_copy(tmp_path_factory.mktemp("demo"))
    r = run_recipe(recipe, "--stage", "0", "--stop-stage", "3", *TINY)
    assert r.returncode == 0, r.stdout + r.stderr
    return recipe


def test_data_dirs_are_valid(recipe):
    for x in SETS:
        validate_data_dir(recipe / "data" / x, require=("wav.scp", "utt2spk", "spk2utt", "utt2dur", "feats.scp"))
    assert read_list(recipe / "data/train/accents") == ["US", "UK", "CHN", "IND", "JPN", "KR", "PT", "RU"]
    train_spk = set(read_mapping(recipe / "data/train/utt2spk").values())
    dev_spk = set(read_mapping(recipe / "data/dev/utt2spk").values())
    assert len(dev_spk) == 8 and train_spk.isdisjoint(dev_spk)
    # the test labels name accents outside the 8; those utterances are left out
    assert set(read_mapping(recipe / "data/test/utt2accent").values()) <= set(read_list(recipe / "data/train/accents"))


def test_features_for_every_utterance(recipe):
    for x in SETS:
        d = recipe / "data" / x
        feats = read_mapping(d / "feats.scp")
        assert set(feats) == set(read_mapping(d / "utt2spk"))
        frames = read_mapping(d / "utt2num_frames")
        utt = sorted(feats)[0]
        mat = kaldiio.load_mat(feats[utt])
        assert mat.shape == (int(frames[utt]), 40)
        dur = float(read_mapping(d / "utt2dur")[utt])
        assert abs(mat.shape[0] - dur * 100) < 3
        # the data dir records the FBank options, every one of them (defaults included)
        recorded = yaml.safe_load((d / "conf/fbank.yaml").read_text())
        assert recorded == FbankConfig.from_yaml(recipe / "conf/fbank.yaml").to_dict()
    assert kaldiio.load_mat(str(recipe / "data/train/cmvn.ark")).shape == (2, 41)


def test_phones_and_bpe(recipe):
    units = [line.split()[0] for line in (recipe / "data/lang_phn/units.txt").read_text().splitlines()]
    assert units == ["<blank>", *PHONES]
    for x in ("train", "dev", "libri_train", "libri_dev"):
        text_phn = read_mapping(recipe / "data" / x / "text.phn")
        assert set(text_phn) == set(read_mapping(recipe / "data" / x / "text"))
        assert {p for v in text_phn.values() for p in v.split()} <= set(PHONES)
    assert not (recipe / "data/test/text.phn").exists()  # the test set has no transcripts
    assert (recipe / "data/lang_bpe_60/bpe.model").stat().st_size > 0


def test_rerun_is_a_no_op(recipe):
    marker = recipe / "before_rerun"
    marker.touch()
    time.sleep(0.05)
    r = run_recipe(recipe, "--stage", "0", "--stop-stage", "3", *TINY)
    assert r.returncode == 0, r.stdout + r.stderr
    changed = [p for p in (recipe / "data").rglob("*") if p.is_file() and p.stat().st_mtime > marker.stat().st_mtime]
    changed += [p for p in (recipe / "fbank").rglob("*") if p.stat().st_mtime > marker.stat().st_mtime]
    assert changed == []


def test_corrupted_wav_is_named(recipe, tmp_path):
    import shutil

    corpus = tmp_path / "aesrc2020"
    shutil.copytree(recipe / "downloads/demo/aesrc2020", corpus, symlinks=True)
    wav = sorted(corpus.glob("Korean*/*/*.wav"))[1]
    data = wav.read_bytes()
    wav.write_bytes(data[: len(data) // 3])
    r = run_recipe(recipe, "--stage", "1", "--stop-stage", "1", "--aesrc-root", str(corpus),
                   "--dev-spk-list", str(corpus / "dev_spk.list"))
    assert r.returncode != 0
    assert str(wav) in r.stderr and "truncated audio" in r.stderr
    assert "exp/log/prepare_aesrc.log" in r.stderr
    # the data dirs of the successful run are untouched
    validate_data_dir(recipe / "data/train")



def test_speed_perturbation(recipe):
    """--speed-perturb true: data/train_sp holds train at speeds 0.9, 1.0, 1.1 with features computed
    through the sox pipes; the accent training set becomes train_sp (its own CMVN statistics)."""
    r = run_recipe(recipe, "--stage", "1", "--stop-stage", "2", "--speed-perturb", "true", *TINY)
    assert r.returncode == 0, r.stdout + r.stderr
    train, sp = recipe / "data/train", recipe / "data/train_sp"
    validate_data_dir(sp, require=("wav.scp", "utt2spk", "spk2utt", "utt2dur", "feats.scp", "text"))
    utts = sorted(read_mapping(train / "utt2spk"))
    assert sorted(read_mapping(sp / "utt2spk")) == sorted(p + u for p in ("", "sp0.9-", "sp1.1-") for u in utts)
    assert read_mapping(sp / "utt2accent")["sp1.1-" + utts[0]] == read_mapping(train / "utt2accent")[utts[0]]
    frames = {u: int(n) for u, n in read_mapping(sp / "utt2num_frames").items()}
    for u in utts:
        # the feature count follows the speed: about n/0.9 and n/1.1 frames
        assert abs(frames["sp0.9-" + u] - frames[u] / 0.9) <= 2 and abs(frames["sp1.1-" + u] - frames[u] / 1.1) <= 2
    assert (sp / "cmvn.ark").is_file()


def test_wav_scp_paths_are_absolute(recipe):
    """A data dir works from any directory: its wav.scp names files by absolute paths."""
    for x in SETS:
        for entry in read_mapping(recipe / "data" / x / "wav.scp").values():
            path = entry.split()[1] if entry.endswith("|") else entry
            assert Path(path).is_absolute(), (x, entry)


def test_other_fbank_config_recomputes_the_features(recipe, tmp_path):
    """Stage 2 with other FBank options redoes every job (not "already complete, skipping")."""
    config = recipe / "conf" / "my80.yaml"
    config.write_text("num_mel_bins: 80\n")
    try:
        r = run_recipe(recipe, "--stage", "2", "--stop-stage", "2", "--fbank-config", "conf/my80.yaml", *TINY)
        assert r.returncode == 0, r.stdout + r.stderr
        for x in SETS:
            d = recipe / "data" / x
            assert yaml.safe_load((d / "conf/fbank.yaml").read_text())["num_mel_bins"] == 80
            assert {kaldiio.load_mat(v).shape[1] for v in read_mapping(d / "feats.scp").values()} == {80}
        assert "already complete" not in "".join(p.read_text() for p in (recipe / "exp/make_fbank").rglob("*.log"))
    finally:  # back to the 40-dim features the other tests expect
        r = run_recipe(recipe, "--stage", "2", "--stop-stage", "2", *TINY)
        assert r.returncode == 0, r.stdout + r.stderr
    assert {kaldiio.load_mat(v).shape[1] for v in read_mapping(recipe / "data/train/feats.scp").values()} == {40}


def test_stage_1_rerun_over_featured_data_dirs(recipe, tmp_path):
    """Stage 1 rewrites a data dir whole (no stale feats.scp/text.phn naming dropped utterances), and
    a failed stage 1 leaves no marker behind, so the next run redoes it."""
    import shutil

    corpus = tmp_path / "aesrc2020"
    shutil.copytree(recipe / "downloads/demo/aesrc2020", corpus, symlinks=True)
    train_utts = read_mapping(recipe / "data/train/utt2spk")
    wav = next(w for w in sorted(corpus.glob("*/*/*.wav")) if sum(u.endswith(w.stem) for u in train_utts) == 1)
    bad_utt = next(u for u in train_utts if u.endswith(wav.stem))
    wav.write_bytes(b"")
    common = ["--aesrc-root", str(corpus), "--dev-spk-list", str(corpus / "dev_spk.list"),
              "--aesrc-test-dir", str(corpus / "AESRC2020-TESTSET"),
              "--aesrc-test-labels", str(corpus / "test_labels.txt"), *TINY]
    r = run_recipe(recipe, "--stage", "1", "--stop-stage", "1", "--skip-bad", "true", *common)
    assert r.returncode == 0, r.stdout + r.stderr
    train = recipe / "data/train"
    validate_data_dir(train)
    assert len(read_mapping(train / "utt2spk")) == len(train_utts) - 1
    assert list(read_mapping(train / "bad_utts")) == [bad_utt]
    assert not (train / "feats.scp").exists() and not (train / "text.phn").exists()
    # a failing stage 1 (the bad file, without --skip-bad) ...
    r = run_recipe(recipe, "--stage", "1", "--stop-stage", "1", *common)
    assert r.returncode != 0 and "empty audio file" in r.stderr
    assert not (recipe / "data/.aesrc.done").exists()
    # ... is redone by the next run; with the file back, stage 2 makes features for all of it
    shutil.copyfile(recipe / "downloads/demo/aesrc2020" / wav.relative_to(corpus), wav)
    r = run_recipe(recipe, "--stage", "1", "--stop-stage", "2", *common)
    assert r.returncode == 0, r.stdout + r.stderr
    validate_data_dir(train, require=("wav.scp", "utt2spk", "feats.scp", "utt2num_frames"))
    assert set(read_mapping(train / "feats.scp")) == set(train_utts)


def test_librispeech_gets_convert_audio_and_skip_bad(recipe, tmp_path):
    """run.sh gives LibriSpeech preparation the same --convert-audio and --skip-bad as AESRC."""
    import shutil

    import soundfile as sf
    libri = tmp_path / "LibriSpeech"
    shutil.copytree(recipe / "downloads/demo/LibriSpeech", libri, symlinks=True)
    flac = sorted(libri.glob("dev-clean/*/*/*.flac"))[0]
    sf.write(flac, tone(1.0, 8000), 8000, format="FLAC")
    r = run_recipe(recipe, "--stage", "1", "--stop-stage", "1", "--librispeech-root", str(libri), *TINY)
    assert r.returncode != 0 and "use --convert-audio" in r.stderr
    r = run_recipe(recipe, "--stage", "1", "--stop-stage", "1", "--librispeech-root", str(libri),
                   "--convert-audio", "true", *TINY)
    assert r.returncode == 0, r.stdout + r.stderr
    assert list(read_mapping(recipe / "data/libri_dev/converted_audio")) == [flac.stem]
    assert read_mapping(recipe / "data/libri_dev/wav.scp")[flac.stem].startswith("sox ")


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc to check processes")
def test_sigkill_of_the_recipe_stops_its_jobs_and_the_rerun_gives_the_same_features(recipe):
    """kill -9 of run.sh's process group in stage 2: no feature job outlives it (they are in
    sessions of their own), and the rerun makes the same features as an uninterrupted run."""
    import shutil
    import signal

    import numpy as np
    r = run_recipe(recipe, "--stage", "2", "--stop-stage", "2", *TINY)  # the features of an uninterrupted run
    assert r.returncode == 0, r.stdout + r.stderr
    before = {u: kaldiio.load_mat(v) for u, v in read_mapping(recipe / "data/train/feats.scp").items()}
    shutil.rmtree(recipe / "fbank/train")
    shutil.rmtree(recipe / "exp/make_fbank/train")
    (recipe / "data/train/.fbank.done").unlink()
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    env.pop("cmd_backend", None)
    proc = subprocess.Popen(["./run.sh", "--stage", "2", "--stop-stage", "2", *TINY], cwd=recipe, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    logs = [recipe / f"exp/make_fbank/train/make_fbank_train.{j}.log" for j in (1, 2)]
    try:
        assert wait_for(lambda: all(p.exists() for p in logs), 60)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    recipe_dir = recipe.resolve()
    assert wait_for(lambda: not processes_in(recipe_dir), 15), processes_in(recipe_dir)
    texts = [p.read_text() for p in logs]
    assert any("# Killed: the job runner" in t for t in texts), texts  # the kill landed while jobs ran
    r = run_recipe(recipe, "--stage", "2", "--stop-stage", "2", *TINY)
    assert r.returncode == 0, r.stdout + r.stderr
    after = {u: kaldiio.load_mat(v) for u, v in read_mapping(recipe / "data/train/feats.scp").items()}
    assert sorted(after) == sorted(before)
    assert all(np.array_equal(after[u], before[u]) for u in before)


def test_corpus_path_with_shell_characters(recipe, tmp_path):
    """--aesrc-root "/data/AESRC(2020)": the job's shell gets the path as one quoted word."""
    import shutil

    corpus = tmp_path / "AESRC(2020)"
    shutil.copytree(recipe / "downloads/demo/aesrc2020", corpus, symlinks=True)
    r = run_recipe(recipe, "--stage", "1", "--stop-stage", "1", "--aesrc-root", str(corpus),
                   "--dev-spk-list", str(corpus / "dev_spk.list"), *TINY)
    assert r.returncode == 0, r.stdout + r.stderr
    assert all(v.startswith(str(corpus)) for v in read_mapping(recipe / "data/train/wav.scp").values())
