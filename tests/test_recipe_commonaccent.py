"""egs/commonaccent: the Common Voice TSV reader, the accent table, the speaker-disjoint split, stage 1
on a generated demo release (MP3 decoded by libsndfile), and the recipe end to end (slow)."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from accent.data.audio import read_wav_scp_entry
from accent.data.commonvoice import (classify, prepare_commonaccent, read_accent_map, read_tsv, select_clips,
                                     split_speakers)
from accent.data.kaldi_dir import read_list, read_mapping, validate_data_dir
from accent.data.problems import CorpusError
from accent.demo.commonvoice import COLUMNS, make_demo_commonvoice
from accent.demo.config import DemoConfig
from conftest import REPO, egs_copy, run_egs

RECIPE = REPO / "egs" / "commonaccent"
TABLE = RECIPE / "local" / "accent_map.tsv"


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    """A demo release (4 classes x 3 speakers, 2-4 clips each, and the rows to leave out)."""
    cfg = DemoConfig(cv_speakers_per_class=3, cv_clips_per_speaker=3, num_jobs=2)
    return make_demo_commonvoice(tmp_path_factory.mktemp("cv"), cfg)


@pytest.fixture(scope="module")
def prepared(release, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data")
    prepare_commonaccent(release, out, TABLE, out / "audio", num_jobs=2)
    return out


def test_the_table_maps_codes_names_and_descriptor_lists() -> None:
    table, classes = read_accent_map(TABLE)
    assert len(classes) == 16 and classes[:2] == ["us", "england"] and "southatlandtic" in classes
    assert classify("us", table) == ("us", "")                                   # releases <= 7.0
    assert classify("United  states English", table) == ("us", "")              # case, spaces
    assert classify("India and South Asia (India, Pakistan, Sri Lanka)", table) == ("indian", "")
    assert classify("United States English, Midwestern United States English", table) == ("us", "")
    assert classify("Midwestern United States English|United States English", table) == ("us", "")
    assert classify("England English|Scottish English", table) == (None, "ambiguous")
    assert classify("Midwestern drawl", table) == (None, "unknown")
    assert classify("other", table) == (None, "unknown")
    assert classify(" ", table) == (None, "no accent")


def test_the_demo_release_has_the_real_columns(release) -> None:
    for name in ("validated", "train", "dev", "test"):
        header = (release / f"{name}.tsv").read_text().splitlines()[0].split("\t")
        assert tuple(header) == COLUMNS
    column, rows = read_tsv(release / "validated.tsv")
    assert column == "accents" and len({r["client_id"] for r in rows}) == 4 * 3 + 4
    clip = release / "clips" / rows[0]["path"]
    info = sf.info(str(clip))
    assert info.format == "MP3" and info.samplerate == 48000 and info.channels == 1
    # the release's own splits are speaker-disjoint subsets of validated.tsv
    split_spk = [{r["client_id"] for r in read_tsv(release / f"{n}.tsv")[1]} for n in ("train", "dev", "test")]
    assert sum(len(s) for s in split_spk) == len(set.union(*split_spk)) == 16


def test_a_tsv_without_a_column_is_named(tmp_path, release) -> None:
    lines = (release / "validated.tsv").read_text().splitlines()
    cut = [("\t".join(f for i, f in enumerate(line.split("\t")) if i != 0)) for line in lines]  # no client_id
    (tmp_path / "validated.tsv").write_text("\n".join(cut) + "\n")
    with pytest.raises(CorpusError, match=rf"{tmp_path / 'validated.tsv'}: no column client_id"):
        read_tsv(tmp_path / "validated.tsv")
    no_accent = [line.replace("\taccents\t", "\tdialect\t") for line in lines]
    (tmp_path / "validated.tsv").write_text("\n".join(no_accent) + "\n")
    with pytest.raises(CorpusError, match="no column accents or accent"):
        read_tsv(tmp_path / "validated.tsv")
    (tmp_path / "validated.tsv").write_text(lines[0] + "\n" + lines[1] + "\textra\n")
    with pytest.raises(CorpusError, match=r"validated.tsv:2: 14 fields, the header has 13"):
        read_tsv(tmp_path / "validated.tsv")


def test_an_old_release_with_the_accent_column(tmp_path, release) -> None:
    header = "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccent\tlocale\tsegment"
    rows = [f"spk{i}\tcommon_voice_en_{i}.mp3\tHello there.\t2\t0\t\t\t{acc}\ten\t"
            for i, acc in enumerate(["us", "scotland", "other", ""])]
    (tmp_path / "validated.tsv").write_text("\n".join([header, *rows]) + "\n")
    clips, sel = select_clips(tmp_path, read_accent_map(TABLE)[0])
    assert [(c.speaker, c.accent) for c in clips] == [("spk0", "us"), ("spk1", "scotland")]
    assert sel.rows == 4 and sel.no_accent == 1 and sel.unknown == Counter({"other": 1})


def test_split_speakers_commonaccent_sizes_with_whole_speakers() -> None:
    big = {f"s{i:02d}": n for i, n in enumerate([40, 30, 30, 25, 20, 20, 15, 300, 10, 10, 5, 5])}  # 510 utts
    assign = split_speakers(big, seed=0)
    size = {name: sum(n for s, n in big.items() if assign[s] == name) for name in ("train", "dev", "test")}
    assert 0 < size["dev"] <= 100 and 0 < size["test"] <= 100 and size["train"] == 510 - size["dev"] - size["test"]
    assert assign["s07"] == "train"  # 300 clips: more than a set's 100
    assert split_speakers(big, seed=0) == assign and split_speakers(big, seed=1) != assign
    small = {"a": 4, "b": 5, "c": 6, "d": 5}  # 20 utts: 20 % = 4 per set
    assign = split_speakers(small)
    assert sorted(assign.values()).count("train") == 2 and {assign["a"]} <= {"dev", "test"}
    # two small speakers and a big one, in every order: dev, test and train each get one
    for seed in range(6):
        assign = split_speakers({"a": 1, "b": 1, "c": 18}, seed=seed)
        assert sorted(assign.values()) == ["dev", "test", "train"], (seed, assign)
    with pytest.raises(ValueError, match="needs 3"):
        split_speakers({"a": 10, "b": 10})


def test_stage1_on_the_demo_release(prepared, release) -> None:
    spk = {}
    for name in ("train", "dev", "test"):
        d = prepared / name
        validate_data_dir(d)
        assert read_list(d / "accents") == ["us", "england", "indian", "scotland"]  # the table's order
        spk[name] = set(read_mapping(d / "utt2spk").values())
        assert {read_mapping(d / "utt2accent")[u] for u in read_mapping(d / "utt2spk")} == set(read_list(d / "accents"))
    assert not (spk["train"] & spk["dev"]) and not (spk["train"] & spk["test"]) and not (spk["dev"] & spk["test"])
    assert len(spk["dev"]) == len(spk["test"]) == 4 and len(spk["train"]) == 4  # one speaker per class each
    # every row is counted: kept + left out
    summary = (prepared / "local" / "accent_selection.txt").read_text()
    rows = dict(line.split("\t", 1) for line in summary.splitlines() if line and not line.startswith("#"))
    kept = sum(int(line.split("\t")[2]) for line in summary.splitlines() if line.startswith("kept\t"))
    assert rows["left out: no accent"] == "4" and rows["left out: accent not in the table"] == "2"
    assert rows["left out: accent naming several classes"] == "2"
    assert kept + 8 == int(rows["rows"]) == len(read_tsv(release / "validated.tsv")[1])
    assert "unknown label\t2\tMidwestern drawl, a bit of everything" in summary
    # the clips were decoded by libsndfile into 16 kHz FLAC of the MP3's length
    wav_scp = read_mapping(prepared / "dev" / "wav.scp")
    utt, path = next(iter(wav_scp.items()))
    samples, rate = read_wav_scp_entry(path)
    mp3 = release / "clips" / f"{utt.split('-', 1)[1]}.mp3"
    assert path.endswith(".flac") and rate == 16000
    assert abs(len(samples) / rate - sf.info(str(mp3)).duration) < 0.01 and np.abs(samples).max() > 0.01
    assert float(read_mapping(prepared / "dev" / "utt2dur")[utt]) == pytest.approx(len(samples) / rate, abs=1e-3)


def test_a_missing_clip_is_named_or_left_out_and_listed(tmp_path, release) -> None:
    lang = tmp_path / "en"
    shutil.copytree(release, lang)
    column, rows = read_tsv(lang / "validated.tsv")
    gone = lang / "clips" / rows[0]["path"]
    gone.unlink()
    with pytest.raises(CorpusError, match=rf"{gone}: missing audio file"):
        prepare_commonaccent(lang, tmp_path / "data", TABLE, tmp_path / "audio", num_jobs=1)
    prepare_commonaccent(lang, tmp_path / "data", TABLE, tmp_path / "audio", skip_bad=True, num_jobs=1)
    listed = [read_mapping(tmp_path / "data" / n / "bad_utts") for n in ("train", "dev", "test")
              if (tmp_path / "data" / n / "bad_utts").is_file()]
    assert [list(b) for b in listed] == [[f"{rows[0]['client_id']}-{gone.stem}"]]
    assert "left out: bad audio files\t1" in (tmp_path / "data" / "local" / "accent_selection.txt").read_text()


@pytest.mark.slow
def test_recipe_end_to_end_on_the_demo_release(tmp_path) -> None:
    recipe = egs_copy(tmp_path, "commonaccent")
    args = ["--nj", "2", "--plots", "false", "--demo-speakers-per-class", "3", "--demo-clips-per-speaker", "3"]
    r = run_egs(recipe, *args)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert (recipe / "downloads/demo/cv-corpus-demo/en/validated.tsv").is_file()
    assert "Stage 3: exp/demo_ecapa: best dev accuracy" in out
    rows = [line for line in (recipe / "RESULTS.md").read_text().splitlines() if line.startswith("| demo_ecapa ")]
    assert len(rows) == 1 and "conf/demo_ecapa.yaml" in rows[0]
    assert (recipe / "exp/demo_ecapa/decode_test/predictions.tsv").is_file()
    assert (recipe / "exp/demo_ecapa/export/model.torchscript.pt").stat().st_size > 0
    assert "left out: no accent\t4" in (recipe / "data/local/accent_selection.txt").read_text()
    # a rerun skips the finished steps: no data dir, feature or checkpoint file is written again
    outputs = [p for d in ("data", "fbank", "exp/demo_ecapa") for p in (recipe / d).rglob("*")
               if p.is_file() and p.suffix in {".scp", ".ark", ".pt", ".tsv"}]
    assert any(p.suffix == ".ark" for p in outputs) and any(p.suffix == ".pt" for p in outputs)
    before = {p: p.stat().st_mtime_ns for p in outputs}
    r = run_egs(recipe, *args, "--stage", "1", "--stop-stage", "3")
    assert r.returncode == 0 and "exp/demo_ecapa is finished" in r.stdout, r.stdout + r.stderr
    assert {p: p.stat().st_mtime_ns for p in outputs} == before
