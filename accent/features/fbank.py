"""Kaldi-compatible log-mel filterbanks (kaldi-native-fbank), written with kaldiio.

One job turns a (split) data directory into ``<prefix>.ark`` + ``<prefix>.scp``
+ ``<prefix>.utt2num_frames`` + ``<prefix>.settings``. The scp is renamed into place last, so a
job killed half-way leaves no scp and is simply redone.  A job is skipped on a rerun only when
its scp covers its utterances and ``<prefix>.settings`` (the FBank options and a checksum of the
job's ``wav.scp``) matches what it is asked now: other options or other audio redo it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Dict, List, Optional

import kaldi_native_fbank as knf
import kaldiio
import numpy as np
import yaml

from accent.data.audio import AudioError, read_wav_scp_entry
from accent.data.kaldi_dir import read_mapping, write_mapping, write_text_atomic

log = logging.getLogger(__name__)


@dataclass
class FbankConfig:
    """Options of Kaldi's compute-fbank-feats that recipes change; the rest keep Kaldi's defaults."""

    sample_rate: int = 16000
    num_mel_bins: int = 40  # the hybrid paper's 40-dim FBank
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    dither: float = 0.0  # 0 makes features reproducible; Kaldi's default is 1.0
    low_freq: float = 20.0
    high_freq: float = 0.0  # <= 0 is an offset from Nyquist, as in Kaldi
    snip_edges: bool = True

    @classmethod
    def from_yaml(cls, path: os.PathLike) -> "FbankConfig":
        with open(path, encoding="utf-8") as f:
            raw = yaml.safe_load(f) or {}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"{path}: unknown fbank options {unknown} (known: {sorted(known)})")
        return cls(**raw)

    @classmethod
    def from_dict(cls, d: dict) -> "FbankConfig":
        return cls(**d)

    def to_dict(self) -> dict:
        return asdict(self)

    def save(self, path: os.PathLike) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(Path(path), yaml.safe_dump(self.to_dict(), sort_keys=False))

    def knf_options(self) -> knf.FbankOptions:
        opts = knf.FbankOptions()
        opts.frame_opts.samp_freq = self.sample_rate
        opts.frame_opts.frame_length_ms = self.frame_length_ms
        opts.frame_opts.frame_shift_ms = self.frame_shift_ms
        opts.frame_opts.dither = self.dither
        opts.frame_opts.snip_edges = self.snip_edges
        opts.mel_opts.num_bins = self.num_mel_bins
        opts.mel_opts.low_freq = self.low_freq
        opts.mel_opts.high_freq = self.high_freq
        return opts


def compute_fbank(samples: np.ndarray, sample_rate: int, config: FbankConfig) -> np.ndarray:
    """(frames, num_mel_bins) float32 log-mel energies of mono samples in [-1, 1]."""
    if sample_rate != config.sample_rate:
        raise AudioError(f"audio at {sample_rate} Hz but the fbank config expects {config.sample_rate} Hz")
    fbank = knf.OnlineFbank(config.knf_options())
    # Kaldi computes on the int16 scale; log energies would shift by a constant otherwise
    fbank.accept_waveform(sample_rate, samples * 32768.0)
    fbank.input_finished()
    n = fbank.num_frames_ready
    if n == 0:
        raise AudioError(f"audio of {len(samples)} samples is shorter than one {config.frame_length_ms} ms frame")
    return np.stack([fbank.get_frame(i) for i in range(n)]).astype(np.float32)


def _with(prefix: Path, ext: str) -> Path:
    # not Path.with_suffix: a prefix such as raw_fbank.3 would lose its job number
    return Path(f"{prefix}{ext}")


def job_settings(wav_scp: Path, config: FbankConfig) -> dict:
    """What a job's features depend on: the FBank options and the contents of its ``wav.scp``."""
    digest = hashlib.sha256(Path(wav_scp).read_bytes()).hexdigest()
    return {"fbank": config.to_dict(), "wav.scp": digest}


def _read_settings(prefix: Path) -> Optional[dict]:
    try:
        return json.loads(_with(prefix, ".settings").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def fbank_job_done(prefix: Path, utts: List[str], settings: dict) -> bool:
    """Whether the job's outputs are complete and were made with ``settings`` (:func:`job_settings`)."""
    scp = _with(prefix, ".scp")
    return scp.is_file() and _read_settings(prefix) == settings and list(read_mapping(scp)) == utts


def compute_fbank_job(data_dir: Path, prefix: Path, config: FbankConfig) -> Path:
    """Features of every utterance of ``data_dir/wav.scp``; returns the scp (skips if done).

    Every utterance is attempted; if any fails, the job fails with one error
    listing all of them and writes no scp.
    """
    data_dir, prefix = Path(data_dir), Path(prefix)
    wav_scp = read_mapping(data_dir / "wav.scp")
    utts = list(wav_scp)
    scp = _with(prefix, ".scp")
    settings = job_settings(data_dir / "wav.scp", config)
    if fbank_job_done(prefix, utts, settings):
        log.info("%s: already complete, skipping", scp)
        return scp
    if scp.exists():
        log.info("%s: made from other audio or with other options, recomputing", scp)
        scp.unlink()  # first: until the new scp is in place, the job counts as not done
    prefix.parent.mkdir(parents=True, exist_ok=True)
    ark = _with(prefix, ".ark").absolute()
    tmp_scp = _with(prefix, ".scp.tmp")
    num_frames: Dict[str, int] = {}
    errors: List[str] = []
    with kaldiio.WriteHelper(f"ark,scp:{ark},{tmp_scp}") as writer:
        for utt, entry in wav_scp.items():
            try:
                samples, rate = read_wav_scp_entry(entry)
                feats = compute_fbank(samples, rate, config)
            except AudioError as e:
                errors.append(f"{utt} ({entry.strip()}): {e}")
                continue
            writer(utt, feats)
            num_frames[utt] = feats.shape[0]
    if errors:
        tmp_scp.unlink(missing_ok=True)
        raise AudioError(f"{data_dir / 'wav.scp'}: {len(errors)} utterances failed:\n  " + "\n  ".join(errors))
    write_mapping(_with(prefix, ".utt2num_frames"), num_frames, sort=False)
    write_text_atomic(_with(prefix, ".settings"), json.dumps(settings, sort_keys=True) + "\n")
    with open(tmp_scp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp_scp, scp)
    log.info("%s: %d utterances, %d frames", scp, len(num_frames), sum(num_frames.values()))
    return scp


def combine_feats(data_dir: Path, prefixes: List[Path]) -> int:
    """Write ``feats.scp`` and ``utt2num_frames`` of ``data_dir`` from finished jobs.

    Fails, naming what is wrong, unless the jobs cover every utterance and were all made with the
    FBank options that ``data_dir/conf/fbank.yaml`` records (when it exists).
    """
    data_dir = Path(data_dir)
    conf = data_dir / "conf" / "fbank.yaml"
    recorded = FbankConfig.from_yaml(conf).to_dict() if conf.is_file() else None
    feats: Dict[str, str] = {}
    frames: Dict[str, str] = {}
    for prefix in prefixes:
        scp = _with(Path(prefix), ".scp")
        if not scp.is_file():
            raise AudioError(f"{scp}: missing, the feature job did not finish (see its log)")
        settings = _read_settings(Path(prefix))
        if settings is None:
            raise AudioError(f"{_with(Path(prefix), '.settings')}: missing or unreadable; rerun the feature job")
        if recorded is None:
            recorded = settings["fbank"]
        elif settings["fbank"] != recorded:
            raise AudioError(f"{scp}: made with FBank options {settings['fbank']}, but {conf if conf.is_file() else prefixes[0]} "
                             f"has {recorded}; rerun the feature jobs")
        feats.update(read_mapping(scp))
        frames.update(read_mapping(_with(Path(prefix), ".utt2num_frames")))
    utts = set(read_mapping(data_dir / "utt2spk"))
    if set(feats) != utts or set(frames) != utts:
        missing = sorted(utts - set(feats))[:5]
        raise AudioError(f"{data_dir}: features cover {len(feats)} of {len(utts)} utterances, missing e.g. {missing}")
    write_mapping(data_dir / "utt2num_frames", frames)
    write_mapping(data_dir / "feats.scp", feats)  # last: its presence means the features are complete
    return len(feats)
