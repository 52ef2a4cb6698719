import pytest

from accent.data.kaldi_dir import (
    DataDirError, fix_data_dir, read_mapping, split_data_dir, validate_data_dir, write_data_dir)


def _dir(tmp_path, n_spk=5, per=3):
    utt2spk = {f"s{s}-u{u}": f"s{s}" for s in range(n_spk) for u in range(per)}
    write_data_dir(tmp_path / "d", {"utt2spk": utt2spk, "wav.scp": {u: f"/x/{u}.wav" for u in utt2spk},
                                    "text": {u: "HELLO" for u in utt2spk}})
    return tmp_path / "d"


def test_validate_and_problems(tmp_path):
    d = _dir(tmp_path)
    assert validate_data_dir(d) == 15
    (d / "text").write_text("s0-u0 HELLO\n")
    (d / "wav.scp").write_text("s1-u0 a\ns0-u0 b\n")
    with pytest.raises(DataDirError) as err:
        validate_data_dir(d)
    msg = str(err.value)
    assert "text: 14 utterances of utt2spk missing" in msg and "wav.scp: not sorted" in msg


def test_duplicate_key_names_file_and_line(tmp_path):
    (tmp_path / "f").write_text("a 1\nb 2\na 3\n")
    with pytest.raises(DataDirError, match=r"f:3: duplicate key 'a'"):
        read_mapping(tmp_path / "f")


def test_fix_keeps_common_utterances(tmp_path):
    d = _dir(tmp_path)
    (d / "text").write_text("s0-u0 HELLO\ns0-u1 HI\n")
    assert fix_data_dir(d) == 2
    validate_data_dir(d)
    assert (d / ".backup" / "removed").read_text().count("\n") == 13


def test_split_keeps_speakers_whole(tmp_path):
    d = _dir(tmp_path, n_spk=5)
    parts = split_data_dir(d, 3)
    spks = [set(read_mapping(p / "utt2spk").values()) for p in parts]
    assert all(spks) and sum(len(s) for s in spks) == 5
    assert set.union(*spks) == {f"s{i}" for i in range(5)}
    for p in parts:
        validate_data_dir(p)
    mtime = (parts[0] / "utt2spk").stat().st_mtime_ns
    split_data_dir(d, 3)  # reused, not rewritten
    assert (parts[0] / "utt2spk").stat().st_mtime_ns == mtime
    with pytest.raises(DataDirError, match="cannot split 5 speakers into 6"):
        split_data_dir(d, 6)
