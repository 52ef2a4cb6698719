"""Speed perturbation of a data directory, as Kaldi's ``utils/data/perturb_data_dir_speed_3way.sh``.

Each factor f != 1 adds a copy of every utterance whose audio is played f times faster with sox's
``speed`` effect (pitch and tempo change together, the sample rate stays), with utterance and
speaker IDs prefixed ``sp<f>-`` so that the copies count as other speakers.  Factor 1 keeps the
original IDs.  Labels (``utt2accent``) and transcripts (``text``, ``text.phn``) are copied;
``utt2dur`` is divided by f; features (``feats.scp``, ``utt2num_frames``) are left for stage 2 to
compute from the new ``wav.scp`` pipes.
"""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path
from typing import Dict, Sequence

from .kaldi_dir import UTT_FILES, DataDirError, read_mapping, replacing_data_dir, validate_data_dir, write_data_dir

# recomputed from the perturbed audio by stage 2
DROPPED = ("feats.scp", "utt2num_frames")


def speed_prefix(factor: float) -> str:
    return "" if factor == 1.0 else f"sp{factor:g}-"


def speed_pipe(entry: str, factor: float) -> str:
    """A wav.scp value whose audio is ``entry``'s at ``factor`` times the speed."""
    if factor == 1.0:
        return entry
    effect = f"-t wav - speed {factor:g} |"
    if entry.rstrip().endswith("|"):  # already a command: chain another sox on its output
        return f"{entry.rstrip()} sox -t wav - {effect}"
    return f"sox {shlex.quote(entry)} {effect}"


def speed_perturb_data_dir(src: os.PathLike, dst: os.PathLike, factors: Sequence[float] = (0.9, 1.0, 1.1)) -> int:
    """Write ``dst`` with the utterances of ``src`` at every speed in ``factors``; returns its size.

    ``dst`` appears complete or not at all (written next to it, then renamed).
    """
    src, dst = Path(src), Path(dst)
    if not factors or any(f <= 0 for f in factors) or len(set(factors)) != len(factors):
        raise ValueError(f"speed factors must be distinct and positive, got {list(factors)}")
    validate_data_dir(src, require=("wav.scp", "utt2spk", "spk2utt"))
    present = {n: read_mapping(src / n, allow_empty_value=True) for n in UTT_FILES
               if n not in DROPPED and (src / n).is_file()}
    out: Dict[str, Dict[str, str]] = {n: {} for n in present}
    for f in factors:
        p = speed_prefix(f)
        for name, mapping in present.items():
            for utt, value in mapping.items():
                if name == "wav.scp":
                    value = speed_pipe(value, f)
                elif name == "utt2spk":
                    value = p + value
                elif name == "utt2dur":
                    try:
                        value = f"{float(value) / f:.3f}"
                    except ValueError:
                        raise DataDirError(f"{src / name}: duration of {utt} is not a number: {value!r}") from None
                out[name][p + utt] = value
    with replacing_data_dir(dst) as tmp:
        write_data_dir(tmp, out)
        if (src / "accents").is_file():
            shutil.copyfile(src / "accents", tmp / "accents")
        n = validate_data_dir(tmp, require=("wav.scp", "utt2spk", "spk2utt"))
    return n
