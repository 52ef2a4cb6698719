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


# ---------------------------------------------------------------------------------------------
# The utils/ scripts with Kaldi's options, as a Kaldi user's scripts call them

import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

UTILS = Path(__file__).resolve().parents[1] / "utils"


def utils(name, *args, cwd):
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    return subprocess.run([str(UTILS / name), *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60)


def test_validate_with_kaldis_no_options(tmp_path):
    d = _dir(tmp_path)
    (d / "wav.scp").unlink()
    (d / "text").write_text("s0-u0 HELLO\n")  # would fail: covers one utterance
    (d / "feats.scp").write_text("s0-u0 x.ark:1\n")
    r = utils("validate_data_dir.sh", "--no-text", "--no-feats", "--no-wav", "--non-print", d, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = utils("validate_data_dir.sh", "--no-text", "--no-wav", d, cwd=tmp_path)
    assert r.returncode == 1 and "feats.scp: 14 utterances of utt2spk missing" in r.stderr


def test_fix_filters_kaldis_extra_files_and_the_toolkits_own(tmp_path):
    d = _dir(tmp_path)
    utts = list(read_mapping(d / "utt2spk"))
    write_data_dir(d, {"utt2accent": {u: "US" for u in utts}, "text.phn": {u: "HH AH" for u in utts}})
    (d / "utt2lang").write_text("".join(f"{u} en\n" for u in utts))
    (d / "spk2gender").write_text("".join(f"s{s} f\n" for s in range(5)))
    (d / "text").write_text("s0-u0 HELLO\ns1-u0 HI\n")
    r = utils("fix_data_dir.sh", "--utt-extra-files", "utt2lang", "--spk-extra-files", "spk2gender", d, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    for name in ("utt2lang", "utt2accent", "text.phn", "wav.scp"):
        assert list(read_mapping(d / name)) == ["s0-u0", "s1-u0"], name
    assert list(read_mapping(d / "spk2gender")) == ["s0", "s1"]
    validate_data_dir(d)


def test_kaldis_fix_data_dir_leaves_toolkit_files_the_validator_names(tmp_path):
    # What Kaldi's own fix_data_dir.sh leaves: utt2accent unfiltered.
    d = _dir(tmp_path)
    utts = list(read_mapping(d / "utt2spk"))
    write_data_dir(d, {"utt2accent": {u: "US" for u in utts}})
    kept = {u: "s0" for u in utts if u.startswith("s0-")}
    write_data_dir(d, {"utt2spk": kept, "wav.scp": {u: "/x" for u in kept}, "text": {u: "HI" for u in kept}})
    with pytest.raises(DataDirError, match="--utt-extra-files \"utt2accent text.phn\""):
        validate_data_dir(d)


def test_split_per_utt(tmp_path):
    d = _dir(tmp_path, n_spk=2, per=3)
    r = utils("split_data.sh", "--per-utt", d, 4, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    parts = [d / "split4utt" / str(j) for j in range(1, 5)]
    sizes = [len(read_mapping(p / "utt2spk")) for p in parts]
    assert sorted(sizes) == [1, 1, 2, 2]
    assert set.union(*(set(read_mapping(p / "utt2spk")) for p in parts)) == set(read_mapping(d / "utt2spk"))
    for p in parts:
        validate_data_dir(p)


def test_combine_extra_files(tmp_path):
    a, b = _dir(tmp_path / "a", n_spk=1), tmp_path / "b"
    utt2spk = {f"t0-u{u}": "t0" for u in range(2)}
    write_data_dir(b, {"utt2spk": utt2spk, "wav.scp": {u: "/y" for u in utt2spk}, "text": {u: "HI" for u in utt2spk}})
    for d in (a, b):
        (d / "utt2lang").write_text("".join(f"{u} en\n" for u in read_mapping(d / "utt2spk")))
    r = utils("combine_data.sh", "--extra-files", "utt2lang", "--skip-fix", "true", tmp_path / "c", a, b, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert len(read_mapping(tmp_path / "c/utt2lang")) == 5


def test_subset_data_dir_kaldis_ways(tmp_path):
    d = _dir(tmp_path, n_spk=4, per=5)
    utts = list(read_mapping(d / "utt2spk"))
    write_data_dir(d, {"utt2accent": {u: "US" for u in utts},
                       "utt2dur": {u: f"{1 + (i * 7) % 20:.1f}" for i, u in enumerate(utts)}})

    def subset(*args):
        out = tmp_path / f"out{len(list(tmp_path.iterdir()))}"
        r = utils("subset_data_dir.sh", *args, out, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        validate_data_dir(out)
        assert set(read_mapping(out / "utt2accent")) == set(read_mapping(out / "utt2spk"))
        return list(read_mapping(out / "utt2spk"))

    assert subset("--first", d, 3) == utts[:3]
    assert subset("--last", d, 2) == utts[-2:]
    even = subset(d, 4)
    assert len(even) == 4 and len({u.split("-")[0] for u in even}) == 4  # spread over the file
    assert subset(d, 4) == even  # deterministic
    speakers = subset("--speakers", d, 6)
    assert len(speakers) == 10 and len({u.split("-")[0] for u in speakers}) == 2  # whole speakers
    assert len(subset("--per-spk", d, 2)) == 8
    shortest = subset("--shortest", d, 3)
    durs = {u: float(v) for u, v in read_mapping(d / "utt2dur").items()}
    assert sorted(durs[u] for u in shortest) == sorted(durs.values())[:3]
    (tmp_path / "ulist").write_text("s1-u0\ns3-u4 extra\n")
    assert subset("--utt-list", tmp_path / "ulist", d) == ["s1-u0", "s3-u4"]
    (tmp_path / "slist").write_text("s2\n")
    assert subset("--spk-list", tmp_path / "slist", d) == [f"s2-u{i}" for i in range(5)]
    r = utils("subset_data_dir.sh", d, 100, tmp_path / "too_many", cwd=tmp_path)
    assert r.returncode == 1 and "cannot subset to 100 utterances, it has 20" in r.stderr
