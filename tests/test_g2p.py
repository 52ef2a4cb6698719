"""G2P (accent.text.g2p) and stage 3's lang_phn preparation."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from accent.text.g2p import (
    PHONES,
    SOURCE_CMUDICT,
    SOURCE_G2P,
    G2P,
    G2PError,
    expand_digits,
    number_words,
    prepare_lang_phn,
)
from accent.text.units import read_units

REPO = Path(__file__).resolve().parents[1]

# Run before anything else in a fresh interpreter: any attempt to open a
# connection or resolve a host name is recorded and fails.
NO_NETWORK_PRELUDE = textwrap.dedent(
    """
    import socket
    ATTEMPTS = []
    def _blocked(*args, **kwargs):
        ATTEMPTS.append(repr(args[1:]))
        raise OSError("network access blocked by test")
    socket.socket.connect = _blocked
    socket.socket.connect_ex = _blocked
    socket.create_connection = _blocked
    socket.getaddrinfo = _blocked
    socket.gethostbyname = _blocked
    """
)


def run_python(code: str, tmp_path: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), HOME=str(tmp_path), NLTK_DATA=str(tmp_path / "nltk_data"))
    return subprocess.run(
        [sys.executable, "-c", NO_NETWORK_PRELUDE + textwrap.dedent(code)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


@pytest.fixture(scope="module")
def g2p() -> G2P:
    return G2P()


def test_phone_set() -> None:
    assert len(PHONES) == 39 == len(set(PHONES))
    assert PHONES[:3] == ("AA", "AE", "AH") and PHONES[-1] == "ZH"


@pytest.mark.parametrize(
    "word, phones",
    [
        ("THE", "DH AH"),
        ("A", "AH"),
        ("DON'T", "D OW N T"),
        ("IT'S", "IH T S"),
        ("MR.", "M IH S T ER"),
        ("MRS.", "M IH S IH Z"),
        ("MS.", "M IH Z"),
        ("STREET", "S T R IY T"),
        ("READ", "R EH D"),  # homograph: first CMUdict pronunciation
        ("DR", "D AA K T ER"),  # override: DOCTOR, not DRIVE
        ("1990", "N AY N T IY N N AY N T IY"),  # nineteen ninety
        ("21ST", "T W EH N T IY F ER S T"),  # twenty first
        ("7", "S EH V AH N"),
        ("CAFÉ", "K AH F EY"),  # accent stripped
        ("NHS", "EH N EY CH EH S"),  # no vowel letter: spelled
    ],
)
def test_known_words(g2p: G2P, word: str, phones: str) -> None:
    assert " ".join(g2p.pronounce(word)) == phones


def test_number_words() -> None:
    assert number_words("105") == ["one", "hundred", "five"]
    assert number_words("2000") == ["two", "thousand"]
    assert number_words("2005") == ["two", "thousand", "five"]
    assert number_words("1905") == ["nineteen", "oh", "five"]
    assert number_words("1900") == ["nineteen", "hundred"]
    assert number_words("3000") == ["three", "thousand"]
    assert number_words("1000000") == ["one", "million"]
    assert number_words("007") == ["zero", "zero", "seven"]
    assert expand_digits("1990s") == ["nineteen", "nineties"]
    assert expand_digits("12th") == ["twelfth"]
    assert expand_digits("mp3") == ["mp", "three"]


def test_oov_word_uses_network(g2p: G2P) -> None:
    pron = g2p.lookup("ZORBLAX")
    assert pron.source == SOURCE_G2P
    assert pron.phones and set(pron.phones) <= set(PHONES)
    assert G2P().pronounce("ZORBLAX") == list(pron.phones)  # deterministic across instances
    assert g2p.lookup("THE").source == SOURCE_CMUDICT


@pytest.mark.parametrize("word", ["ZORBLAX'S", "DOGS'", "WELL-KNOWN", "MP3", "3D", "1990S", "X", "QXZ'T", "ÅNGSTRÖMIUM"])
def test_odd_tokens_give_valid_phones(g2p: G2P, word: str) -> None:
    phones = g2p.pronounce(word)
    assert phones and set(phones) <= set(PHONES)


@pytest.mark.parametrize("token", ["'", "²", "--", "€"])
def test_tokens_without_phones(g2p: G2P, token: str) -> None:
    assert g2p.pronounce(token) == []


def test_sentence_concatenates_words(g2p: G2P) -> None:
    text = "MR. SMITH DON'T LIVE ON 21ST STREET"
    assert g2p(text) == [p for w in text.split() for p in g2p.pronounce(w)]
    assert g2p("'") == []


@pytest.mark.slow
def test_no_network_access(tmp_path: Path) -> None:
    """A fresh interpreter imports the module and runs the network G2P with sockets blocked."""
    result = run_python(
        """
        import sys
        from accent.text.g2p import G2P, PHONES
        g = G2P()
        phones = g("THE ZORBLAX DON'T 1990 FLURBISHNACK")
        assert phones and set(phones) <= set(PHONES), phones
        assert g.lookup("FLURBISHNACK").source == "g2p"
        # g2p_en's module code (which calls nltk.download) never ran, nor did NLTK load.
        assert "g2p_en" not in sys.modules and "nltk" not in sys.modules, sorted(sys.modules)
        print("ATTEMPTS", ATTEMPTS)
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "ATTEMPTS []" in result.stdout


@pytest.mark.slow
def test_network_port_matches_g2p_en(tmp_path: Path) -> None:
    """Our numpy decoder gives exactly g2p_en's G2p.predict output."""
    result = run_python(
        """
        import nltk
        nltk.download = lambda *a, **k: False  # g2p_en's import-time downloads: refuse, offline
        from g2p_en.g2p import G2p
        from accent.text.g2p import G2pNetwork
        net = G2pNetwork()
        ref = object.__new__(G2p)  # G2p.__init__ would load CMUdict through NLTK
        ref.graphemes = list(net.GRAPHEMES)
        ref.g2idx = net.g2idx
        ref.idx2p = dict(enumerate(net.PHONEMES))
        ref.load_variables()
        for w in ["activationist", "zorblax", "aesrc", "kubernetes", "o'neill", "brexit", "qwertyuiop"]:
            assert ref.predict(w) == net.predict(w), (w, ref.predict(w), net.predict(w))
        print("ATTEMPTS", ATTEMPTS)
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "ATTEMPTS []" in result.stdout


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_prepare_lang_phn(tmp_path: Path, g2p: G2P, caplog: pytest.LogCaptureFixture) -> None:
    train, test, lang = tmp_path / "train", tmp_path / "test", tmp_path / "lang_phn"
    _write(train / "text", "spk1-a MR. SMITH DON'T GO\nspk1-b THE ZORBLAX 1990\nspk2-a GO\n")
    _write(test / "wav.scp", "spk3-a /x.wav\n")  # unlabelled: no text
    with caplog.at_level(logging.INFO):
        summary = prepare_lang_phn(lang, [train, test], g2p)
    assert summary.prepared == [train] and summary.skipped == [test]
    assert any("no text" in r.getMessage() and str(test) in r.getMessage() for r in caplog.records)
    assert not (test / "text.phn").exists()

    assert read_units(lang / "units.txt") == ["<blank>", *PHONES]
    lexicon = (lang / "lexicon.txt").read_text().splitlines()
    assert [line.split()[0] for line in lexicon] == ["1990", "DON'T", "GO", "MR.", "SMITH", "THE", "ZORBLAX"]
    assert "THE DH AH" in lexicon and "MR. M IH S T ER" in lexicon
    assert (lang / "lexicon_oov.txt").read_text().split()[0] == "ZORBLAX"

    text_phn = dict(line.split(" ", 1) for line in (train / "text.phn").read_text().splitlines())
    assert list(text_phn) == ["spk1-a", "spk1-b", "spk2-a"]
    assert text_phn["spk2-a"] == "G OW"
    assert text_phn["spk1-a"] == "M IH S T ER S M IH TH D OW N T G OW"
    for phones in text_phn.values():
        assert set(phones.split()) <= set(PHONES)

    # Rerun: a no-op, nothing rewritten.
    outputs = [lang / "units.txt", lang / "lexicon.txt", lang / "lexicon_oov.txt", train / "text.phn"]
    stamps = [p.stat().st_mtime_ns for p in outputs]
    contents = [p.read_bytes() for p in outputs]
    prepare_lang_phn(lang, [train, test], g2p)
    assert [p.stat().st_mtime_ns for p in outputs] == stamps
    assert [p.read_bytes() for p in outputs] == contents


# (an empty transcript is no error: the utterance is untranscribed, tests/test_untranscribed.py)
@pytest.mark.parametrize("text, problem", [("spk1-a HELLO\nspk1-b '\n", "no phones")])
def test_prepare_lang_phn_bad_utterance(tmp_path: Path, g2p: G2P, text: str, problem: str) -> None:
    _write(tmp_path / "train" / "text", text)
    with pytest.raises(G2PError) as err:
        prepare_lang_phn(tmp_path / "lang", [tmp_path / "train"], g2p)
    assert str(tmp_path / "train" / "text") in str(err.value) and "spk1-b" in str(err.value)
    assert problem in str(err.value)
    assert not (tmp_path / "lang").exists()  # nothing written


def test_cli(tmp_path: Path) -> None:
    _write(tmp_path / "data/train/text", "spk1-a HELLO WORLD\n")
    (tmp_path / "data/test").mkdir()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "accent.bin.prepare_lang_phn", "--lang-dir", "data/lang_phn", "data/train", "data/test"]
    result = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "data/test has no text" in result.stderr
    assert (tmp_path / "data/train/text.phn").read_text() == "spk1-a HH AH L OW W ER L D\n"

    _write(tmp_path / "data/bad/text", "spk1-a HELLO\nspk1-b '\n")
    cmd[-2:] = ["data/bad"]
    result = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "data/bad/text: utterance spk1-b: no phones from its text" in result.stderr
    assert "Traceback" not in result.stderr
