"""Tests of the offline demo corpora (accent.demo): layout, audio, determinism, accents."""

from __future__ import annotations

import random
import re
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from accent.bin.make_demo_corpus import main as cli_main
from accent.data.aesrc import AESRC_ACCENTS
from accent.demo.accents import ACCENTS, EXTRA_TEST_ACCENTS
from accent.demo.aesrc import DEV_LIST, TEST_DIR, TEST_LABELS, plan_aesrc
from accent.demo.corpus import DemoConfig, make_demo_aesrc, make_demo_librispeech
from accent.demo.espeak import Voice, parse_phonemes
from accent.demo.phonology import ENGLISH_CONSONANTS, LEXICAL_SETS
from accent.demo.sentences import SentenceGenerator, to_librispeech_transcript
from accent.demo.speech import espeak_input, speak
from accent.demo.staging import STAMP_NAME

TINY = DemoConfig(seed=3, speakers_per_accent=2, utts_per_speaker=2, dev_speakers_per_accent=1, test_utts=10,
                  libri_train_speakers=2, libri_train_utts=3, libri_dev_speakers=1, libri_dev_utts=2, num_jobs=2)
LONG_NAMES = {
    "US": "American English Speech Data", "UK": "British English Speech Data",
    "CHN": "Chinese Speaking English Speech Data", "IND": "Indian English Speech Data",
    "JPN": "Japanese Speaking English Speech Data", "KR": "Korean Speaking English Speech Data",
    "PT": "Portuguese Speaking English Speech Data", "RU": "Russian Speaking English Speech Data",
}
TRANSFER_ACCENTS = [code for code, acc in ACCENTS.items() if acc.transfer is not None]


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("demo")
    return make_demo_aesrc(out, TINY), make_demo_librispeech(out, TINY)


@pytest.fixture(scope="module")
def aesrc(corpora: tuple[Path, Path]) -> Path:
    return corpora[0]


@pytest.fixture(scope="module")
def libri(corpora: tuple[Path, Path]) -> Path:
    return corpora[1]


def _speaker_dirs(aesrc: Path, code: str) -> list[Path]:
    return sorted(p for p in (aesrc / LONG_NAMES[code]).iterdir())


def _riff_chunks(path: Path) -> list[tuple[bytes, int]]:
    data = path.read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", path
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8, f"{path}: RIFF size"
    chunks, pos = [], 12
    while pos < len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        chunks.append((cid, size))
        pos += 8 + size + (size % 2)
    assert pos == len(data), f"{path}: chunk sizes do not add up"
    return chunks


# ---- AESRC2020 layout -------------------------------------------------------------------------
def test_aesrc_top_level(aesrc: Path) -> None:
    names = {p.name for p in aesrc.iterdir()}
    assert names == set(LONG_NAMES.values()) | {TEST_DIR, TEST_LABELS, DEV_LIST, STAMP_NAME}


def test_aesrc_speakers_and_file_names(aesrc: Path) -> None:
    for code in AESRC_ACCENTS:
        spk_dirs = _speaker_dirs(aesrc, code)
        assert len(spk_dirs) == TINY.speakers_per_accent
        for spk_dir in spk_dirs:
            assert re.fullmatch(r"G\d{4,5}", spk_dir.name), spk_dir
            wavs = sorted(spk_dir.glob("*.wav"))
            assert len(wavs) == TINY.utts_per_speaker
            assert {p.name for p in spk_dir.iterdir()} == {f"{w.stem}{ext}" for w in wavs for ext in (".wav", ".txt")}
            for w in wavs:
                assert re.fullmatch(rf"{spk_dir.name}S\d{{4}}", w.stem), w


def test_aesrc_quirky_speaker_ids(aesrc: Path) -> None:
    ind = [p.name for p in _speaker_dirs(aesrc, "IND")]
    assert any(re.fullmatch(r"G\d{4}", s) for s in ind), ind  # 4-digit Indian speaker
    uk = {p.name for p in _speaker_dirs(aesrc, "UK")}
    kr = {p.name for p in _speaker_dirs(aesrc, "KR")}
    assert uk & kr, "one speaker ID must occur under UK and KR"


def test_aesrc_transcripts(aesrc: Path) -> None:
    txts = sorted(aesrc.glob("*/*/*.txt"))
    assert len(txts) == len(AESRC_ACCENTS) * TINY.speakers_per_accent * TINY.utts_per_speaker
    with_newline = 0
    for t in txts:
        raw = t.read_bytes().decode("utf-8")
        if raw.endswith("\n"):
            with_newline += 1
            raw = raw[:-1]
        assert "\n" not in raw and raw.strip() == raw, t
        assert re.search(r"[A-Z]", raw) and re.search(r"[a-z]", raw), t
        assert raw[-1] in ".?!\"", t
        assert not re.search(r"\d", raw), t
    assert 0 < with_newline < len(txts) / 2  # most files have no final newline, a few do


def test_aesrc_wav_format_and_list_chunks(aesrc: Path) -> None:
    wavs = sorted(aesrc.glob("**/*.wav"))
    with_list = 0
    for w in wavs:
        chunks = _riff_chunks(w)
        ids = [c for c, _ in chunks]
        assert ids[0] == b"fmt " and ids[-1] == b"data", (w, ids)
        if b"LIST" in ids:
            with_list += 1
            assert ids == [b"fmt ", b"LIST", b"data"], (w, ids)
        info = sf.info(str(w))
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16"), w
        assert info.frames == dict(chunks)[b"data"] // 2, w
    assert 0 < with_list <= len(wavs) / 10


def test_aesrc_audio_is_speech_like(aesrc: Path) -> None:
    for w in sorted(aesrc.glob("**/*.wav")):
        audio, rate = sf.read(str(w), dtype="float32")
        dur = len(audio) / rate
        assert 1.0 < dur < 20.0, (w, dur)
        assert np.sqrt(np.mean(audio ** 2)) > 0.005, w
        assert np.max(np.abs(audio)) < 1.0, w


def test_aesrc_dev_list(aesrc: Path) -> None:
    lines = (aesrc / DEV_LIST).read_text().splitlines()
    assert len(lines) == len(AESRC_ACCENTS) * TINY.dev_speakers_per_accent
    for line in lines:
        acc, spk = line.split(" ")
        assert (aesrc / LONG_NAMES[acc] / spk).is_dir(), line


def test_aesrc_test_set(aesrc: Path) -> None:
    wavs = sorted((aesrc / TEST_DIR).iterdir())
    assert [w.name for w in wavs] == [f"AESRC2020-TESTSET-{n:05d}.wav" for n in range(1, TINY.test_utts + 1)]
    labels = [line.split(" ") for line in (aesrc / TEST_LABELS).read_text().splitlines()]
    assert [u for u, _ in labels] == [w.stem for w in wavs]
    accents = {a for _, a in labels}
    assert set(EXTRA_TEST_ACCENTS) <= accents  # CA, ES: outside the eight, dropped by the data prep
    assert accents <= set(AESRC_ACCENTS) | set(EXTRA_TEST_ACCENTS)
    # Test speakers are new speakers.
    plan = plan_aesrc(TINY, Path("/nonexistent"))
    train_ids = {s for spks in plan.speakers.values() for s in spks}
    test_ids = {job.speaker.speaker_id for job in plan.jobs if TEST_DIR in str(job.path)}
    assert test_ids and not test_ids & train_ids


# ---- LibriSpeech layout -----------------------------------------------------------------------
def test_librispeech_layout(libri: Path) -> None:
    assert {p.name for p in libri.iterdir()} >= {"train-clean-100", "dev-clean", "SPEAKERS.TXT"}
    n_expected = {"train-clean-100": TINY.libri_train_speakers * TINY.libri_train_utts,
                  "dev-clean": TINY.libri_dev_speakers * TINY.libri_dev_utts}
    for part, n in n_expected.items():
        flacs = sorted((libri / part).glob("*/*/*.flac"))
        assert len(flacs) == n
        for trans in (libri / part).glob("*/*/*.trans.txt"):
            spk, chapter = trans.parent.parent.name, trans.parent.name
            assert spk.isdigit() and chapter.isdigit()
            assert trans.name == f"{spk}-{chapter}.trans.txt"
            lines = trans.read_text().splitlines()
            stems = sorted(p.stem for p in trans.parent.glob("*.flac"))
            assert [line.split(" ", 1)[0] for line in lines] == stems
            assert stems == [f"{spk}-{chapter}-{i:04d}" for i in range(len(stems))]
            for line in lines:
                assert re.fullmatch(r"[A-Z']+( [A-Z']+)+", line.split(" ", 1)[1]), line
        for f in flacs:
            audio, rate = sf.read(str(f), dtype="float32")
            assert rate == 16000 and audio.ndim == 1 and len(audio) > rate
            assert np.sqrt(np.mean(audio ** 2)) > 0.005, f


def test_librispeech_found_by_lhotse(libri: Path) -> None:
    lhotse = pytest.importorskip("lhotse")
    manifests = lhotse.recipes.prepare_librispeech(libri, dataset_parts="auto", num_jobs=1)
    assert set(manifests) == {"train-clean-100", "dev-clean"}
    assert len(manifests["dev-clean"]["recordings"]) == TINY.libri_dev_speakers * TINY.libri_dev_utts
    assert len(manifests["dev-clean"]["supervisions"]) == TINY.libri_dev_speakers * TINY.libri_dev_utts


# ---- determinism and re-runs ------------------------------------------------------------------
def test_same_seed_same_bytes(tmp_path: Path, aesrc: Path) -> None:
    cfg = DemoConfig(**{**TINY.__dict__, "num_jobs": 1})  # other worker count, same output
    again = make_demo_aesrc(tmp_path, cfg)
    files = sorted(p.relative_to(aesrc) for p in aesrc.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for rel in files:
        assert (aesrc / rel).read_bytes() == (again / rel).read_bytes(), rel


def test_other_seed_other_corpus() -> None:
    a = plan_aesrc(TINY, Path("/x"))
    b = plan_aesrc(DemoConfig(**{**TINY.__dict__, "seed": TINY.seed + 1}), Path("/x"))
    assert a.speakers != b.speakers


def test_rerun_is_noop(corpora: tuple[Path, Path]) -> None:
    aesrc, libri = corpora
    before = {p: p.stat().st_mtime_ns for root in corpora for p in root.rglob("*")}
    assert make_demo_aesrc(aesrc.parent, TINY) == aesrc
    assert make_demo_librispeech(libri.parent, TINY) == libri
    after = {p: p.stat().st_mtime_ns for root in corpora for p in root.rglob("*")}
    assert before == after


def test_partial_output_is_regenerated(tmp_path: Path) -> None:
    cfg = DemoConfig(**{**TINY.__dict__, "libri_train_speakers": 1, "libri_train_utts": 1,
                        "libri_dev_speakers": 1, "libri_dev_utts": 1})
    partial = tmp_path / ".LibriSpeech.partial"
    (partial / "train-clean-100").mkdir(parents=True)
    (partial / "junk.flac").write_bytes(b"half-written")
    root = make_demo_librispeech(tmp_path, cfg)
    assert not partial.exists()
    assert not (root / "junk.flac").exists() and (root / STAMP_NAME).is_file()


def test_foreign_directory_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "aesrc2020").mkdir()
    (tmp_path / "aesrc2020" / "real_data.wav").write_bytes(b"x")
    with pytest.raises(RuntimeError, match="no .demo_corpus_done.json"):
        make_demo_aesrc(tmp_path, TINY)
    assert (tmp_path / "aesrc2020" / "real_data.wav").exists()


def test_cli_rejects_bad_config(tmp_path: Path) -> None:
    assert cli_main(["--out", str(tmp_path), "--speakers-per-accent", "2", "--dev-speakers-per-accent", "2"]) == 1
    assert not any(tmp_path.iterdir())


# ---- accents ----------------------------------------------------------------------------------
def test_transfer_tables_cover_english() -> None:
    for code in TRANSFER_ACCENTS:
        table = ACCENTS[code].transfer
        assert table is not None
        missing = (LEXICAL_SETS | ENGLISH_CONSONANTS | {"FLAP"}) - set(table.nearest)
        assert not missing, (code, missing)
        for rule in table.rules:
            assert rule.src in table.nearest, (code, rule)


@pytest.mark.parametrize("code", TRANSFER_ACCENTS)
def test_transfer_symbols_exist_in_l1_voice(code: str) -> None:
    """espeak drops the rest of a word at an unknown phoneme: check every symbol, framed by a sentinel."""
    table = ACCENTS[code].transfer
    assert table is not None
    symbols = sorted(table.output_symbols())
    words = [f"m{s}m" if s in table.vowels else f"a{s}am" for s in symbols]
    out = subprocess.run(["espeak-ng", "-q", "-x", "--sep= ", "-v", ACCENTS[code].voices[0],
                          "[[" + " ".join(words) + "]]"], capture_output=True, text=True, check=True).stdout
    echoed = [w for w in re.split(r"\s{2,}|\n", out) if w.strip() and w.strip() != "_|"]
    assert len(echoed) == len(symbols), (code, out)
    for sym, word in zip(symbols, echoed):
        toks = [t for t in word.split() if not t.startswith("_")]
        assert toks[-1] == "m" and len(toks) >= 3, f"{code}: symbol {sym!r} not understood by the voice: {word!r}"


@pytest.mark.parametrize("code", TRANSFER_ACCENTS)
def test_transfer_sentences_round_trip(code: str) -> None:
    """The L1 voice reads back every transferred word (no truncation, no letter spelling)."""
    accent = ACCENTS[code]
    rng = random.Random(0)
    for text in SentenceGenerator(1).sentences(4):
        inp = espeak_input(text, accent, 1.0, rng)
        assert re.fullmatch(r"(\[\[[^\]]+\]\][,.;:?!] ?)+", inp), inp
        words = " ".join(re.findall(r"\[\[(.*?)\]\]", inp)).split()
        out = subprocess.run(["espeak-ng", "-q", "-x", "--sep= ", "-v", accent.voices[0], inp],
                             capture_output=True, text=True, check=True).stdout
        assert "(" not in out, (code, out)  # no switch to another language's letter names
        echoed = parse_phonemes(out)
        assert sum(len(c) for c in echoed) == len(words), (code, inp, out)


@pytest.mark.parametrize("code", list(ACCENTS) + list(EXTRA_TEST_ACCENTS))
def test_each_accent_produces_speech(code: str) -> None:
    accent = ACCENTS.get(code) or EXTRA_TEST_ACCENTS[code]
    rng = random.Random(1)
    for text in SentenceGenerator(2).sentences(3):
        for language in sorted(set(accent.voices)):
            audio = speak(text, accent, Voice(language, "m3", speed=150), 0.9, rng)
            dur = len(audio) / 16000
            n_words = len(text.split())
            assert dur > 0.5 and dur > 0.15 * n_words, (code, language, text, dur)
            assert dur < 1.5 * n_words, (code, language, text, dur)  # not spelling letters
            assert np.sqrt(np.mean(audio ** 2)) > 0.02, (code, language, text)


# ---- text -------------------------------------------------------------------------------------
def test_sentences() -> None:
    sents = SentenceGenerator(7).sentences(400)
    assert sents == SentenceGenerator(7).sentences(400)
    assert sents != SentenceGenerator(8).sentences(400)
    for s in sents:
        assert 6 <= len(s.split()) <= 16, s
        assert not re.search(r"\d", s) and ".." not in s, s
        assert s[0].isupper() and s.rstrip('"')[-1] in ".?!", s
    joined = " ".join(sents)
    for needle in ("Mr.", "Mrs.", "Ms.", " St.", "'", ",", "?", "!", '"', "-", ":", ";"):
        assert needle in joined, needle


def test_librispeech_transcript() -> None:
    assert to_librispeech_transcript('Mrs. Brown said, "It\'s a well-known shop on Baker St."') == \
        "MRS BROWN SAID IT'S A WELL KNOWN SHOP ON BAKER ST"


def test_manifest_lists_every_file_with_its_hash_and_the_tools(corpora: tuple[Path, Path]) -> None:
    import json

    from accent.demo.manifest import manifest_path

    for root in corpora:
        doc = json.loads(manifest_path(root).read_text())
        files = sorted(f"./{p.relative_to(root)}" for p in root.rglob("*") if p.is_file())
        assert sorted(doc["files"]) == files
        # the digest is what the README's sha256sum pipeline prints for the corpus folder
        shell = subprocess.run("find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum",
                               shell=True, cwd=root, capture_output=True, text=True, check=True)
        assert doc["digest"] == shell.stdout.split()[0]
        assert doc["tools"]["espeak-ng"].startswith("eSpeak NG") and doc["tools"]["numpy"]
        assert doc["tools"]["numpy_cpu_dispatch"] is not None
        assert len(doc["pcm_digest"]) == 64  # of the decoded samples: FLAC bytes vary with the encoder
