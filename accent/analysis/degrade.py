"""Degraded phone transcripts for the robustness test of the hybrid paper (Sec. 4.4, Table 3).

A variant is ``theta`` in [0, 1] or ``random``:

* ``theta``: each phone of ``text.phn`` is replaced by its broad phonetic class token (stops,
  affricates, fricatives, nasals, liquids, glides, front/central/back vowels, diphthongs; the map
  is the data file ``local/broad_phone_classes.txt``) with probability theta, independently.
  theta 0 keeps the transcript, theta 1 leaves only class tokens.
* ``random``: each utterance's phones are replaced by a sequence of the same length drawn
  uniformly (with replacement) from the 39 phones: the CTC targets keep their length, so the
  CTC branch still sees how many phones there are, but nothing of which ones.

Every variant uses one unit list, ``<blank>``, the 39 phones in ``data/lang_phn`` order, then the
class tokens in the order of the map file, so that the ASR checkpoint's CTC rows can be copied
(:func:`accent.models.build.init_from_asr`) and the original dev transcripts stay valid
targets.  The draws are seeded per utterance by (seed, CRC32 of its ID): a variant does not
depend on which other utterances the data dir holds.
"""

from __future__ import annotations

import json
import os
import shutil
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Sequence, Union

import numpy as np

from accent.data.kaldi_dir import (
    DataDirError, read_list, read_mapping, validate_data_dir, write_mapping, write_text_atomic,
)
from accent.text.g2p import PHONES
from accent.text.units import BLANK, write_units

RANDOM = "random"
Variant = Union[float, str]


def load_broad_classes(path: Union[str, os.PathLike]) -> Dict[str, str]:
    """``<PHONE> <CLASS>`` lines (``#`` comments) -> phone -> class token, in file order; every
    one of the 39 phones exactly once, class tokens distinct from the phones."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: broad phone class map not found")
    classes: Dict[str, str] = {}
    for line in read_list(path):
        fields = line.split()
        if len(fields) != 2:
            raise DataDirError(f"{path}: expected '<PHONE> <CLASS>' lines, got {line!r}")
        phone, cls = fields
        if phone not in PHONES:
            raise DataDirError(f"{path}: {phone!r} is not one of the 39 phones")
        if phone in classes:
            raise DataDirError(f"{path}: phone {phone} is mapped twice")
        if cls in PHONES or cls == BLANK:
            raise DataDirError(f"{path}: class token {cls!r} (of {phone}) is a phone or the blank")
        classes[phone] = cls
    missing = [p for p in PHONES if p not in classes]
    if missing:
        raise DataDirError(f"{path}: phones without a class: {' '.join(missing)}")
    return classes


def class_tokens(classes: Mapping[str, str]) -> List[str]:
    """The class tokens in order of first appearance."""
    return list(dict.fromkeys(classes.values()))


def degraded_units(classes: Mapping[str, str]) -> List[str]:
    """``<blank>``, the 39 phones (as ``data/lang_phn``), then the class tokens."""
    return [BLANK, *PHONES, *class_tokens(classes)]


def parse_variant(text: str) -> Variant:
    """``random`` or a theta in [0, 1]."""
    if text == RANDOM:
        return RANDOM
    try:
        theta = float(text)
    except ValueError:
        raise ValueError(f"variant must be a theta in [0, 1] or '{RANDOM}', got {text!r}") from None
    if not 0.0 <= theta <= 1.0:
        raise ValueError(f"theta must be in [0, 1], got {theta}")
    return theta


def degrade(phones: Sequence[str], theta: float, rng: np.random.Generator,
            classes: Mapping[str, str]) -> List[str]:
    """Each phone replaced by its class token with probability ``theta``."""
    replace = rng.random(len(phones)) < theta  # [0, 1) draws: theta 0 never, theta 1 always
    return [classes[p] if r else p for p, r in zip(phones, replace)]


def random_transcript(length: int, rng: np.random.Generator) -> List[str]:
    """``length`` phones drawn uniformly from the 39."""
    return [PHONES[i] for i in rng.integers(0, len(PHONES), size=length)]


def utterance_rng(seed: int, utt: str) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(utt.encode("utf-8"))])


def degrade_transcript(phones: Sequence[str], variant: Variant, rng: np.random.Generator,
                       classes: Mapping[str, str]) -> List[str]:
    if variant == RANDOM:
        return random_transcript(len(phones), rng)
    return degrade(phones, float(variant), rng, classes)


@dataclass
class DegradeSummary:
    utts: int
    phones: int
    changed: int  # phones that differ from the original


def write_degraded_data_dir(src: Union[str, os.PathLike], dst: Union[str, os.PathLike], variant: Variant,
                            classes: Mapping[str, str], seed: int = 0) -> DegradeSummary:
    """A copy of data dir ``src`` in ``dst`` with a degraded ``text.phn``.

    The other files are copied (``feats.scp`` keeps pointing at the same arks; ``conf/`` and
    ``cmvn.ark`` come along; ``split*/`` and marker files do not).  Built next to ``dst`` and
    renamed into place, so ``dst`` is never half-written.  ``dst/degrade.json`` records how it was made.
    """
    src, dst = Path(src), Path(dst)
    text_phn = src / "text.phn"
    if not text_phn.is_file():
        raise DataDirError(f"{text_phn}: missing (stage 3 writes the phone transcripts)")
    transcripts = read_mapping(text_phn, allow_empty_value=True)
    unknown = {p for line in transcripts.values() for p in line.split() if p not in classes}
    if unknown:
        raise DataDirError(f"{text_phn}: phones without a broad class: {' '.join(sorted(unknown))}")
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for item in src.iterdir():
        if item.name.startswith(".") or item.name.startswith("split") or item.name == "text.phn":
            continue
        if item.is_dir():
            if item.name == "conf":
                shutil.copytree(item, tmp / item.name)
        else:
            shutil.copy2(item, tmp / item.name)
    out: Dict[str, str] = {}
    phones = changed = 0
    for utt, text in transcripts.items():
        orig = text.split()
        new = degrade_transcript(orig, variant, utterance_rng(seed, utt), classes)
        phones += len(orig)
        changed += sum(a != b for a, b in zip(orig, new))
        out[utt] = " ".join(new)
    write_mapping(tmp / "text.phn", out)
    summary = DegradeSummary(len(out), phones, changed)
    write_text_atomic(tmp / "degrade.json", json.dumps(
        {"source": str(src), "variant": variant, "seed": int(seed), **asdict(summary)}, indent=2) + "\n")
    validate_data_dir(tmp, require=("utt2spk", "spk2utt", "feats.scp", "text.phn"))
    if dst.exists():
        shutil.rmtree(dst)
    os.replace(tmp, dst)
    return summary


def write_degraded_lang_dir(lang_dir: Union[str, os.PathLike], classes: Mapping[str, str]) -> Path:
    """``lang_dir/units.txt`` with :func:`degraded_units` (unchanged files are not rewritten)."""
    lang_dir = Path(lang_dir)
    lang_dir.mkdir(parents=True, exist_ok=True)
    write_units(lang_dir / "units.txt", degraded_units(classes))
    return lang_dir
