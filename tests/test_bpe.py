"""Sentencepiece BPE units (accent.text.bpe) and the train_bpe CLI."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from accent.data.kaldi_dir import DataDirError
from accent.text.bpe import BpeError, bpe_units, decode, encode, encode_units, read_sentences, train_bpe
from accent.text.units import read_units

REPO = Path(__file__).resolve().parents[1]
WORDS = (
    "THE A OF TO AND IN IS IT YOU THAT HE WAS FOR ON ARE WITH AS I HIS THEY BE AT ONE HAVE THIS "
    "FROM OR HAD BY WORD BUT WHAT SOME WE CAN OUT OTHER WERE ALL THERE WHEN UP USE YOUR HOW SAID "
    "DON'T IT'S MR. MRS. MS. STREET ACCENT ENGLISH SPEECH BRITISH AMERICAN INDIAN CHINESE KOREAN "
    "JAPANESE RUSSIAN PORTUGUESE RECOGNITION WEATHER TOMORROW MORNING STATION TRAIN TICKET"
).split()


def sentences(n: int = 400, seed: int = 0) -> List[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 15))) for _ in range(n)]


def test_train_encode_decode(tmp_path: Path) -> None:
    texts = sentences()
    model = train_bpe(texts, tmp_path / "lang_bpe_100", vocab_size=100)
    assert model == tmp_path / "lang_bpe_100" / "bpe.model"
    assert (tmp_path / "lang_bpe_100" / "bpe.vocab").read_text().splitlines()[0] == "<unk>\t0"
    assert not list((tmp_path / "lang_bpe_100").glob("*.tmp"))

    units = read_units(tmp_path / "lang_bpe_100" / "units.txt")
    assert units[:2] == ["<blank>", "<unk>"] and units[-1] == "<sos/eos>"
    assert len(units) == 100 + 2 and units == bpe_units(model)

    for text in texts[:50] + ["MR. SMITH DON'T GO TO THE STATION"]:
        pieces = encode(model, text)
        assert decode(model, pieces) == text
        ids = encode_units(model, text)
        assert [units[i] for i in ids] == pieces
        assert all(2 <= i < len(units) - 1 for i in ids)  # never blank/unk/sos-eos for seen characters
    assert encode(model, "THE STATION")[0].startswith("▁")
    assert units.index("<unk>") in encode_units(model, "THE QZX")  # unseen letters -> <unk>


def test_deterministic_and_idempotent(tmp_path: Path) -> None:
    texts = sentences()
    a = train_bpe(texts, tmp_path / "a", vocab_size=120)
    b = train_bpe(texts, tmp_path / "b", vocab_size=120)
    for name in ("bpe.model", "bpe.vocab", "units.txt"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    stamp = a.stat().st_mtime_ns
    train_bpe(texts, tmp_path / "a", vocab_size=120)
    assert a.stat().st_mtime_ns == stamp  # unchanged model not rewritten
    assert b.read_bytes() == a.read_bytes()


def test_vocab_too_large(tmp_path: Path) -> None:
    with pytest.raises(BpeError, match=r"--vocab-size 5000 is too large .* use --vocab-size \d+ or smaller"):
        train_bpe(sentences(50), tmp_path / "lang", vocab_size=5000)
    assert not (tmp_path / "lang").exists()
    with pytest.raises(BpeError, match="no transcripts"):
        train_bpe([], tmp_path / "lang", vocab_size=100)


def test_read_sentences(tmp_path: Path) -> None:
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "text").write_text("u1 HELLO WORLD\nu2\nu3 GOOD MORNING\n")
    assert read_sentences([tmp_path / "train"]) == ["HELLO WORLD", "GOOD MORNING"]
    (tmp_path / "test").mkdir()
    with pytest.raises(DataDirError, match="test/text: missing"):
        read_sentences([tmp_path / "train", tmp_path / "test"])


def test_cli(tmp_path: Path) -> None:
    (tmp_path / "data" / "train").mkdir(parents=True)
    (tmp_path / "data" / "train" / "text").write_text("".join(f"u{i:04d} {s}\n" for i, s in enumerate(sentences())))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "accent.bin.train_bpe", "--vocab-size", "80", "data/train"]
    result = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert len(read_units(tmp_path / "data" / "lang_bpe_80" / "units.txt")) == 82

    cmd[4] = "100000"
    result = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "too large" in result.stderr and "Traceback" not in result.stderr
