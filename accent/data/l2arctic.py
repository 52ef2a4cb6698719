"""L2-ARCTIC (the speaker's L1 as the accent label) -> Kaldi data directories, through lhotse.

Layout of the release, as lhotse's ``prepare_l2_arctic`` reads it::

    <root>/<SPK>/wav/arctic_a0001.wav          44.1 kHz 16-bit mono PCM
    <root>/<SPK>/transcript/arctic_a0001.txt   one line
    <root>/<SPK>/annotation/*.TextGrid         (150 per speaker; not read)
    <root>/suitcase_corpus/...                 spontaneous speech of 22 speakers (left out here)

24 speakers, 4 per L1 (Arabic, Chinese = Mandarin, Hindi, Korean, Spanish, Vietnamese), with
lhotse's speaker table giving each speaker's L1 (its ``custom["accent"]``, used as the label).

lhotse takes every ``*.txt`` under the root as a transcript, stops with a KeyError on a speaker
missing from its table or a transcript without its WAV, and drops a WAV without a transcript
silently; so the layout is checked here first and every such file reported (or, with
``skip_bad``, lhotse reads a symlinked view without them).  The audio is 44.1 kHz: ``wav.scp``
resamples it with sox pipes, listed in ``converted_audio`` (as ``--convert-audio`` does for AESRC).

Speaker-disjoint folds (:func:`folds`): with four speakers per L1, fold k tests the k-th speaker of
every L1 (in name order), develops on the next one and trains on the other two; over the four folds
every speaker is tested once.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Dict, List, Mapping, Tuple

from accent.data.kaldi_dir import replacing_data_dir, validate_data_dir, write_data_dir, write_list
from accent.data.problems import (CorpusError, Problem, check_audio, raise_unless_skipping, wav_scp_entries,
                                  write_bad_utts, write_converted_audio)
from accent.text.normalize import normalize_transcript

log = logging.getLogger(__name__)

SETS = ("train", "dev", "test")


def speaker_l1() -> Dict[str, str]:
    """Speaker ID (lower case, as lhotse's) -> L1, from lhotse's table of the release."""
    from lhotse.recipes.l2_arctic import _parse_speaker_description

    return {spk: meta["native_lang"] for spk, meta in _parse_speaker_description().items()}


def _transcript_problem(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        return f"transcript is not UTF-8 ({e})"
    return "" if normalize_transcript(text) else "transcript has no words after normalisation"


def scan(root: Path) -> Tuple[Dict[str, Tuple[Path, Path]], List[Problem]]:
    """The read-speech utterances ``<spk>-<stem> -> (wav, transcript)`` and the files lhotse would
    trip over or drop."""
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"{root}: L2-ARCTIC root is not a directory")
    known = speaker_l1()
    utts: Dict[str, Tuple[Path, Path]] = {}
    problems: List[Problem] = []
    for txt in sorted(root.rglob("*.txt")):
        rel = txt.relative_to(root).parts
        if len(rel) == 3 and rel[0] == "suitcase_corpus" and rel[1] == "transcript":
            continue
        if len(rel) != 3 or rel[1] != "transcript":
            problems.append(Problem(txt.stem, txt, "a .txt file outside <SPK>/transcript/ (lhotse reads every "
                                                   "*.txt under the root as a transcript)"))
    speakers = sorted(d for d in root.iterdir() if (d / "wav").is_dir() and d.name != "suitcase_corpus")
    if not speakers:
        raise CorpusError(f"{root}: no speaker folders (expected <SPK>/wav/*.wav and <SPK>/transcript/*.txt)")
    for spk_dir in speakers:
        spk = spk_dir.name.lower()
        if spk not in known:
            problems.append(Problem(spk, spk_dir, f"speaker {spk_dir.name} is not in lhotse's L2-ARCTIC speaker "
                                                  f"table ({', '.join(sorted(s.upper() for s in known))})"))
            continue
        wavs = {w.stem: w for w in (spk_dir / "wav").glob("*.wav")}
        txts = {t.stem: t for t in (spk_dir / "transcript").glob("*.txt")}
        for stem in sorted(set(wavs) | set(txts)):
            utt = f"{spk}-{stem}"
            if stem not in txts:
                problems.append(Problem(utt, wavs[stem], "audio without a transcript"))
            elif stem not in wavs:
                problems.append(Problem(utt, txts[stem], "transcript without audio"))
            else:
                why = _transcript_problem(txts[stem])
                if why:
                    problems.append(Problem(utt, txts[stem], why))
                else:
                    utts[utt] = (wavs[stem], txts[stem])
    return utts, problems


def make_view(view: Path, utts: Mapping[str, Tuple[Path, Path]]) -> Path:
    """A symlinked copy of the corpus holding only ``utts`` (what lhotse reads)."""
    if view.exists():
        shutil.rmtree(view)
    for utt, (wav, txt) in utts.items():
        for src in (wav, txt):
            dst = view / src.parent.parent.name / src.parent.name / src.name
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.symlink_to(src.resolve())
    return view


def folds(spk2l1: Mapping[str, str]) -> List[Dict[str, str]]:
    """Speaker -> set per fold: fold k tests the k-th speaker of each L1 (in name order), develops on
    the next one (cyclically) and trains on the rest.  There are as many folds as the smallest L1 has
    speakers, which must be three or more."""
    by_l1: Dict[str, List[str]] = {}
    for spk in sorted(spk2l1):
        by_l1.setdefault(spk2l1[spk], []).append(spk)
    n = min(len(s) for s in by_l1.values())
    if n < 3:
        small = sorted(l1 for l1, s in by_l1.items() if len(s) < 3)
        raise CorpusError(f"L1 {', '.join(small)}: fewer than 3 speakers; speaker-disjoint train/dev/test "
                          "folds need 3 per L1")
    out = []
    for k in range(n):
        assign = {}
        for spks in by_l1.values():
            for i, spk in enumerate(spks):
                assign[spk] = "test" if i == k else "dev" if i == (k + 1) % n else "train"
        out.append(assign)
    return out


def prepare_l2arctic(root: Path, out_dir: Path, manifest_dir: Path, sample_rate: int = 16000,
                     skip_bad: bool = False, num_jobs: int = 4) -> Dict[str, Path]:
    """Write ``out_dir/all`` (every read utterance, ``utt2accent`` = L1) and the speaker lists of the
    folds, ``out_dir/local/fold<k>/{train,dev,test}.spk``; returns the written paths."""
    from lhotse.recipes import prepare_l2_arctic  # heavy import, only for this stage

    root, out_dir, manifest_dir = Path(root), Path(out_dir), Path(manifest_dir)
    utts, problems = scan(root)
    infos, bad_audio = check_audio({u: w for u, (w, _) in utts.items()}, sample_rate, True, num_jobs)
    problems += bad_audio
    raise_unless_skipping(problems, str(root), skip_bad)
    good = {u: p for u, p in utts.items() if u in infos}
    source = make_view(manifest_dir / "corpus_view", good) if problems else root
    read = prepare_l2_arctic(source, output_dir=manifest_dir)["read"]
    sups = {s.id: s for s in read["supervisions"]}
    if set(sups) != set(good):
        lost = sorted(set(good) ^ set(sups))[:5]
        raise CorpusError(f"{root}: lhotse prepared {len(sups)} of {len(good)} utterances, e.g. {lost} differ")
    wav_scp, converted = wav_scp_entries({u: infos[u] for u in sups}, sample_rate)
    spk2l1 = {s.speaker: s.custom["accent"] for s in sups.values()}
    files = {
        "wav.scp": wav_scp,
        "text": {u: normalize_transcript(s.text) for u, s in sups.items()},
        "utt2spk": {u: s.speaker for u, s in sups.items()},
        "utt2accent": {u: spk2l1[s.speaker] for u, s in sups.items()},
        "utt2dur": {u: f"{infos[u].duration:.3f}" for u in sups},
    }
    all_dir = out_dir / "all"
    with replacing_data_dir(all_dir) as tmp:
        write_data_dir(tmp, files, labels=sorted(set(spk2l1.values())))
        validate_data_dir(tmp)
    write_bad_utts(all_dir, problems)
    write_converted_audio(all_dir, converted)
    log.info("%s: %d utterances, %d speakers, L1s %s", all_dir, len(sups), len(spk2l1),
             ", ".join(f"{l1} ({sum(1 for s in spk2l1.values() if s == l1)})" for l1 in sorted(set(spk2l1.values()))))
    written = {"all": all_dir}
    for k, assign in enumerate(folds(spk2l1), 1):
        fold_dir = out_dir / "local" / f"fold{k}"
        fold_dir.mkdir(parents=True, exist_ok=True)
        for name in SETS:
            write_list(fold_dir / f"{name}.spk", sorted(s for s, x in assign.items() if x == name))
        written[f"fold{k}"] = fold_dir
    return written
