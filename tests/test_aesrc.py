"""AESRC2020 layout parsing: folder names, IDs, transcripts, bad input, splits, test set."""

from pathlib import Path

import pytest

from accent.data.aesrc import accent_code, find_accent_dirs, label_order, prepare_aesrc, read_transcript
from accent.data.kaldi_dir import read_list, read_mapping, validate_data_dir
from accent.data.problems import CorpusError
from conftest import make_aesrc, write_wav


def test_accent_codes():
    assert accent_code("Chinese Speaking English Speech Data") == "CHN"
    assert accent_code("KR") == "KR"
    assert accent_code("Scottish English") == "Scottish_English"
    assert label_order(["RU", "CA", "US", "XX", "IND"]) == ["US", "IND", "RU", "CA", "XX"]


def test_long_names_colliding_and_four_digit_ids(small_aesrc, dev_list, tmp_path):
    out = tmp_path / "data"
    prepare_aesrc(small_aesrc, out, dev_list)
    for name in ("train", "dev"):
        validate_data_dir(out / name, require=("wav.scp", "text", "utt2spk", "spk2utt", "utt2accent", "utt2dur"))
    dev = read_mapping(out / "dev" / "utt2spk")
    train = read_mapping(out / "train" / "utt2spk")
    # G00025 is a dev speaker under UK but a training speaker under KR
    assert "UK-G00025" in dev.values() and "KR-G00025" in train.values()
    assert "IND-G0760-G0760S1001" in dev
    assert set(dev.values()).isdisjoint(train.values())
    utt2accent = read_mapping(out / "train" / "utt2accent")
    assert all(utt.split("-")[0] == acc for utt, acc in utt2accent.items())
    assert read_list(out / "train" / "accents") == ["US", "UK", "IND", "KR"]
    text = read_mapping(out / "train" / "text")
    assert text["US-G00100-G00100S1001"] == "HELLO MR. SMITH IT'S AMERICAN NUMBER 0"
    wav = read_mapping(out / "train" / "wav.scp")["US-G00100-G00100S1001"]
    assert " " in wav and Path(wav).is_file()  # the folder name's spaces survive in wav.scp
    assert float(read_mapping(out / "train" / "utt2dur")["US-G00100-G00100S1001"]) == pytest.approx(0.5, abs=1e-3)


def test_short_codes_under_datatang_english(tmp_path, dev_list):
    root = make_aesrc(tmp_path / "Datatang-English" / "data", {"US": ["G00007", "G1"], "CA": ["G2"], "ES": ["G3"]})
    assert sorted(find_accent_dirs(tmp_path)) == ["CA", "ES", "US"]
    prepare_aesrc(tmp_path, tmp_path / "out", dev_list)
    assert read_list(tmp_path / "out" / "train" / "accents") == ["US", "CA", "ES"]
    assert root.is_dir()


def test_accent_subset_and_other_corpus(tmp_path):
    make_aesrc(tmp_path / "c", {"Scottish": ["S1", "S2"], "Welsh": ["W1", "W2"], "US": ["U1", "U2"]})
    dev = tmp_path / "dev.list"
    dev.write_text("Scottish S1\nWelsh W1\n")
    prepare_aesrc(tmp_path / "c", tmp_path / "out", dev, accents=["Scottish", "Welsh"])
    assert read_list(tmp_path / "out" / "train" / "accents") == ["Scottish", "Welsh"]
    assert set(read_mapping(tmp_path / "out" / "dev" / "utt2accent").values()) == {"Scottish", "Welsh"}


def test_other_sample_rate(tmp_path):
    root = tmp_path / "c"
    for spk in ("A1", "A2"):
        write_wav(root / "X" / spk / f"{spk}S0001.wav", 0.5, sample_rate=8000)
        (root / "X" / spk / f"{spk}S0001.txt").write_text("hello")
    dev = tmp_path / "dev.list"
    dev.write_text("X A1\n")
    with pytest.raises(CorpusError, match="sample rate 8000 Hz, expected 16000"):
        prepare_aesrc(root, tmp_path / "out", dev)
    prepare_aesrc(root, tmp_path / "out", dev, sample_rate=8000)
    assert validate_data_dir(tmp_path / "out" / "train") == 1


def test_transcript_quirks(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("No final newline.")
    assert read_transcript(p) == "NO FINAL NEWLINE"
    p.write_bytes("\ufeffWith BOM and CRLF\r\n".encode("utf-8"))
    assert read_transcript(p) == "WITH BOM AND CRLF"
    p.write_text("   \n")
    with pytest.raises(CorpusError, match="empty transcript"):
        read_transcript(p)


def test_list_chunk_is_read(tmp_path, dev_list):
    root = make_aesrc(tmp_path / "c", {"US": ["G00007", "G00008"]})
    write_wav(root / "US" / "G00008" / "G00008S1001.wav", 0.7, list_chunk=True)
    assert b"LIST" in (root / "US" / "G00008" / "G00008S1001.wav").read_bytes()
    prepare_aesrc(root, tmp_path / "out", dev_list)
    assert float(read_mapping(tmp_path / "out" / "train" / "utt2dur")["US-G00008-G00008S1001"]) == pytest.approx(0.7, abs=1e-3)


def _corrupt(root: Path) -> dict:
    spk = root / "US" / "G00008"
    bad = {
        "missing transcript": spk / "G00008S1001.txt",
        "truncated": spk / "G00008S1002.wav",
        "empty audio": spk / "G00008S1003.wav",
        "unreadable": spk / "G00008S1004.wav",
        "stereo": spk / "G00008S1005.wav",
        "rate": spk / "G00008S1006.wav",
        "empty transcript": spk / "G00008S1007.txt",
    }
    bad["missing transcript"].unlink()
    data = bad["truncated"].read_bytes()
    bad["truncated"].write_bytes(data[: len(data) // 2])
    bad["empty audio"].write_bytes(b"")
    bad["unreadable"].write_bytes(b"not a wave file" * 50)
    write_wav(bad["stereo"], 0.5, channels=2)
    write_wav(bad["rate"], 0.5, sample_rate=44100)
    bad["empty transcript"].write_text("")
    return bad


def test_every_bad_file_is_named(tmp_path, dev_list):
    root = make_aesrc(tmp_path / "c", {"US": ["G00007", "G00008"]}, utts=9)
    bad = _corrupt(root)
    with pytest.raises(CorpusError) as err:
        prepare_aesrc(root, tmp_path / "out", dev_list)
    msg = str(err.value)
    assert msg.startswith("7 bad files")
    for path in bad.values():
        assert str(path) in msg
    assert "truncated audio" in msg and "2 channels, expected mono" in msg and "44100 Hz" in msg
    assert not (tmp_path / "out" / "train").exists()  # nothing half-written


def test_skip_bad_lists_them(tmp_path, dev_list):
    root = make_aesrc(tmp_path / "c", {"US": ["G00007", "G00008"]}, utts=9)
    _corrupt(root)
    prepare_aesrc(root, tmp_path / "out", dev_list, skip_bad=True)
    bad_utts = read_mapping(tmp_path / "out" / "train" / "bad_utts")
    assert len(bad_utts) == 7
    utts = read_mapping(tmp_path / "out" / "train" / "utt2spk")
    assert set(bad_utts).isdisjoint(utts) and len(utts) == 2
    assert not (tmp_path / "out" / "dev" / "bad_utts").exists()


def test_convert_audio_uses_sox_pipes(tmp_path, dev_list):
    root = make_aesrc(tmp_path / "c", {"US": ["G00007", "G00008"]})
    write_wav(root / "US" / "G00008" / "G00008S1001.wav", 0.5, sample_rate=44100, channels=2)
    prepare_aesrc(root, tmp_path / "out", dev_list, convert_audio=True)
    entry = read_mapping(tmp_path / "out" / "train" / "wav.scp")["US-G00008-G00008S1001"]
    assert entry.startswith("sox ") and entry.endswith("|")
    assert "44100 Hz" in read_mapping(tmp_path / "out" / "train" / "converted_audio")["US-G00008-G00008S1001"]


def test_duplicate_accent_folders(tmp_path, dev_list):
    make_aesrc(tmp_path / "c", {"US": ["G1"], "American English Speech Data": ["G2"]})
    with pytest.raises(CorpusError, match="hold accent US"):
        prepare_aesrc(tmp_path / "c", tmp_path / "out", dev_list)


def test_test_set_with_labels(small_aesrc, dev_list, tmp_path):
    test_dir = tmp_path / "AESRC2020-TESTSET"
    for i in range(1, 5):
        write_wav(test_dir / f"AESRC2020-TESTSET-{i:05d}.wav", 0.4, seed=i)
    labels = tmp_path / "labels.txt"
    labels.write_text("AESRC2020-TESTSET-00001 US\nAESRC2020-TESTSET-00002 CA\nAESRC2020-TESTSET-00003 KR\nAESRC2020-TESTSET-00004 UK\n")
    prepare_aesrc(small_aesrc, tmp_path / "out", dev_list, test_dir=test_dir, test_labels=labels)
    test = tmp_path / "out" / "test"
    validate_data_dir(test)
    assert read_mapping(test / "utt2accent") == {
        "AESRC2020-TESTSET-00001": "US", "AESRC2020-TESTSET-00003": "KR", "AESRC2020-TESTSET-00004": "UK"}
    assert not (test / "text").exists()
    labels.write_text("AESRC2020-TESTSET-00001 US\n")
    with pytest.raises(CorpusError, match="AESRC2020-TESTSET-00002.wav: no label"):
        prepare_aesrc(small_aesrc, tmp_path / "out", dev_list, test_dir=test_dir, test_labels=labels)


def test_shipped_official_dev_list():
    from accent.data.aesrc import read_dev_speakers

    pairs = read_dev_speakers(Path(__file__).parent.parent / "local" / "aesrc2020_dev_spk.list")
    assert len(pairs) == 39
    assert ("IND", "G0760") in pairs and ("UK", "G00025") in pairs
    assert sum(1 for a, _ in pairs if a == "UK") == 8


def test_test_speakers_held_out_from_the_tree(small_aesrc, dev_list, tmp_path):
    """A corpus whose test speakers sit in the same tree (SAA-dev's lists/test_spk.txt): they form a
    labelled data/test and stay out of train; both list formats are read."""
    test_list = tmp_path / "test_spk.txt"
    test_list.write_text("US-G00100\nIND G00200\n")
    out = tmp_path / "data"
    written = prepare_aesrc(small_aesrc, out, dev_list, test_spk_list=test_list)
    assert set(written) == {"train", "dev", "test"}
    test = read_mapping(out / "test" / "utt2spk")
    assert set(test.values()) == {"US-G00100", "IND-G00200"}
    assert read_mapping(out / "test" / "utt2accent")["US-G00100-G00100S1001"] == "US"
    train = set(read_mapping(out / "train" / "utt2spk").values())
    assert train.isdisjoint(test.values()) and train.isdisjoint(read_mapping(out / "dev" / "utt2spk").values())
    clash = tmp_path / "clash.txt"
    clash.write_text("IND-G0760\n")
    with pytest.raises(CorpusError, match="share speakers"):
        prepare_aesrc(small_aesrc, tmp_path / "o2", dev_list, test_spk_list=clash)


def test_stage1_names_the_real_reason_of_each_bad_file(small_aesrc, dev_list, tmp_path):
    """A 10-sample wav used to pass stage 1 and fail the feature jobs of stage 2; a directory
    named like a wav and a symbolic link loop were reported as "missing audio"."""
    spk = small_aesrc / "American English Speech Data" / "G00007"
    short = write_wav(spk / "G00007S1001.wav", 10 / 16000)
    folder = spk / "G00007S2001.wav"
    folder.mkdir()
    (spk / "G00007S2001.txt").write_text("A folder")
    loop = spk / "G00007S2002.wav"
    loop.symlink_to(loop)
    (spk / "G00007S2002.txt").write_text("A loop")
    (spk / "G00007S1002.txt").write_text("?! ... --")  # no words at all
    with pytest.raises(CorpusError) as err:
        prepare_aesrc(small_aesrc, tmp_path / "data", dev_list)
    msg = str(err.value)
    assert f"{short}: too short (10 samples, 0.6 ms; not one 25 ms feature frame)" in msg
    assert f"{folder}: a directory, not an audio file" in msg
    assert f"{loop}: symbolic link loop" in msg
    assert "G00007S1002.txt: transcript has no words after normalisation: '?! ... --'" in msg
    assert "missing audio" not in msg


def test_a_dev_list_that_is_not_utf8_names_the_line(small_aesrc, tmp_path):
    dev = tmp_path / "dev.list"
    dev.write_bytes(b"UK G00025\n# caf\xe9 speakers\nIND G0760\n")
    with pytest.raises(CorpusError, match=rf"^{dev}:2: not UTF-8 text \(byte 0xe9 at column 6\)"):
        prepare_aesrc(small_aesrc, tmp_path / "data", dev)
