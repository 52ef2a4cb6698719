"""Tiny corpora in the real on-disk layouts: AESRC2020 and LibriSpeech folders of generated audio,
and Kaldi data directories with real features (generated audio -> Kaldi FBank -> kaldiio ark/scp,
as stage 2 writes them)."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterable, Optional, Sequence, Tuple

import kaldiio
import numpy as np
import soundfile as sf

from accent.data.kaldi_dir import write_list, write_mapping
from accent.features.cmvn import compute_global_cmvn
from accent.features.fbank import FbankConfig, compute_fbank
from accent.text.g2p import phone_units
from accent.text.units import write_units

from .audio import accent_signal, tone, write_wav

ACCENTS = ("US", "UK", "IND")


def make_aesrc(root: Path, speakers: Dict[str, Iterable[str]], utts: int = 2,
               texts: Optional[Dict[Tuple[str, str, int], str]] = None) -> Path:
    """``speakers`` maps an accent folder name to its speaker IDs; returns ``root``."""
    seed = 0
    for folder, spks in speakers.items():
        for spk in spks:
            for i in range(utts):
                stem = f"{spk}S{1001 + i:04d}"
                seed += 1
                write_wav(root / folder / spk / f"{stem}.wav", 0.5 + 0.1 * i, seed=seed)
                text = (texts or {}).get((folder, spk, i), f"Hello, Mr. Smith; it's {folder.split()[0]} number {i}.")
                (root / folder / spk / f"{stem}.txt").write_text(text)  # no final newline, as the corpus
    return root


def make_librispeech(root: Path, part: str, speakers=(19, 26), chapters=(198,), utts=3) -> Path:
    for spk in speakers:
        for ch in chapters:
            d = root / part / str(spk) / str(ch)
            d.mkdir(parents=True, exist_ok=True)
            lines = []
            for i in range(utts):
                utt = f"{spk}-{ch}-{i:04d}"
                sf.write(d / f"{utt}.flac", tone(0.6, seed=spk + i), 16000, format="FLAC")
                lines.append(f"{utt} HELLO WORLD NUMBER {i} IT'S FINE")
            (d / f"{spk}-{ch}.trans.txt").write_text("\n".join(lines) + "\n")
    return root


def make_feats_dir(data_dir: Path, utts: Dict[str, tuple], labels: Sequence[str] = ACCENTS,
                   with_text: bool = True) -> Path:
    """``utts``: utt -> (accent index, seconds, seed).  Writes feats.scp/ark, utt2num_frames,
    utt2spk, spk2utt, utt2accent, text.phn, text, accents and cmvn.ark."""
    data_dir.mkdir(parents=True, exist_ok=True)
    phones = phone_units()[1:]
    cfg = FbankConfig()
    feats, frames, utt2spk, utt2acc, text_phn, text = {}, {}, {}, {}, {}, {}
    for utt, (acc, seconds, seed) in sorted(utts.items()):
        feats[utt] = compute_fbank(accent_signal(acc, seconds, seed), 16000, cfg)
        frames[utt] = feats[utt].shape[0]
        utt2spk[utt] = utt.rsplit("-", 1)[0]
        utt2acc[utt] = labels[acc]
        rng = np.random.default_rng(seed)
        text_phn[utt] = " ".join(rng.choice(phones, size=int(4 + 6 * seconds)))
        text[utt] = " ".join(["HELLO", "WORLD", labels[acc]][: 1 + seed % 3])
    ark, scp = data_dir / "feats.ark", data_dir / "feats.scp"
    with kaldiio.WriteHelper(f"ark,scp:{ark.absolute()},{scp.absolute()}") as writer:
        for utt in sorted(feats):
            writer(utt, feats[utt])
    write_mapping(data_dir / "utt2num_frames", frames)
    cfg.save(data_dir / "conf" / "fbank.yaml")  # as stage 2 records it
    write_mapping(data_dir / "utt2spk", utt2spk)
    spk2utt: Dict[str, list] = {}
    for u, s in sorted(utt2spk.items()):
        spk2utt.setdefault(s, []).append(u)
    write_mapping(data_dir / "spk2utt", {s: " ".join(us) for s, us in spk2utt.items()})
    write_mapping(data_dir / "utt2accent", utt2acc)
    if with_text:
        write_mapping(data_dir / "text.phn", text_phn)
        write_mapping(data_dir / "text", text)
    write_list(data_dir / "accents", list(labels))
    compute_global_cmvn(scp, data_dir / "cmvn.ark")
    return data_dir


def make_corpus(root: Path, spk_per_accent: int = 2, utts_per_spk: int = 3, dev_utts: int = 2,
                seconds=(0.5, 1.1)) -> Dict[str, Path]:
    """data/{train,dev,libri_train,libri_dev} + data/lang_phn, tiny and real.  Returns the paths."""
    data = root / "data"
    train, dev = {}, {}
    seed = 0
    for a, acc in enumerate(ACCENTS):
        for s in range(spk_per_accent + 1):
            for i in range(utts_per_spk if s < spk_per_accent else dev_utts):
                seed += 1
                dur = seconds[0] + (seconds[1] - seconds[0]) * ((seed * 7) % 10) / 9
                utt = f"{acc}-S{a}{s}-{i:03d}"
                (train if s < spk_per_accent else dev)[utt] = (a, dur, seed)
    paths = {
        "train": make_feats_dir(data / "train", train),
        "dev": make_feats_dir(data / "dev", dev),
        "libri_train": make_feats_dir(data / "libri_train", train),
        "libri_dev": make_feats_dir(data / "libri_dev", dev),
    }
    lang = data / "lang_phn"
    lang.mkdir(parents=True, exist_ok=True)
    write_units(lang / "units.txt", phone_units())
    paths["lang"] = lang
    return paths
