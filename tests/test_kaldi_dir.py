import pytest

from accent.data.kaldi_dir import (
    DataDirError, combine_data_dirs, fix_data_dir, read_mapping, split_data_dir, validate_data_dir, write_data_dir)


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


def test_combine_keeps_the_common_files_and_refuses_id_clashes(tmp_path):
    libri = _dir(tmp_path / "libri")
    aesrc = tmp_path / "aesrc"
    utt2spk = {f"US-G1-u{u}": "US-G1" for u in range(2)}
    write_data_dir(aesrc, {"utt2spk": utt2spk, "wav.scp": {u: f"/y/{u}.wav" for u in utt2spk},
                           "text": {u: "" for u in utt2spk}, "utt2accent": {u: "US" for u in utt2spk}})
    for d in (libri, aesrc):
        (d / "conf").mkdir()
        (d / "conf" / "fbank.yaml").write_text("num_mel_bins: 40\n")
    out = tmp_path / "both"
    assert combine_data_dirs(out, [libri, aesrc]) == 17
    assert read_mapping(out / "wav.scp")["US-G1-u1"] == "/y/US-G1-u1.wav"
    assert read_mapping(out / "text", allow_empty_value=True)["US-G1-u0"] == ""
    assert not (out / "utt2accent").exists()  # LibriSpeech has no accent labels
    assert read_mapping(out / "spk2utt")["US-G1"] == "US-G1-u0 US-G1-u1"
    with pytest.raises(DataDirError, match="s0-u0 is in both"):
        combine_data_dirs(tmp_path / "twice", [libri, libri])
    assert not (tmp_path / "twice").exists()
