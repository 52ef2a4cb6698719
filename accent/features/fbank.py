"""Kaldi-compatible log-mel filterbanks in torch, and the stage-2 jobs that write them with kaldiio.

:class:`Fbank` is the one FBank implementation of the package: a batched, device-agnostic
``torch.nn.Module`` computing Kaldi's ``compute-fbank-feats`` (it equals kaldi-native-fbank,
the reference in the tests, to 5e-4 in the mel bins within 60 dB of their frame's peak; deeper
ones are float32 rounding noise in both).  :func:`compute_fbank` (numpy in and out) runs it
for the feature jobs and for inference; training can run it on the fly, on CPU or CUDA.

One job turns a (split) data directory into ``<prefix>.ark`` + ``<prefix>.scp``
+ ``<prefix>.utt2num_frames`` + ``<prefix>.settings``. The scp is renamed into place last, so a
job killed half-way leaves no scp and is simply redone.  A job is skipped on a rerun only when
its scp covers its utterances and ``<prefix>.settings`` (the FBank options and a checksum of the
job's ``wav.scp``) matches what it is asked now: other options or other audio redo it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
from dataclasses import astuple
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import kaldiio
import numpy as np
import torch

from accent.data.audio import AudioError, read_wav_scp_entry
from accent.data.kaldi_dir import read_mapping, write_mapping, write_text_atomic

from .fbank_config import INT16_SCALE, FbankConfig  # noqa: F401 (their home is torch-free, for accent-id)

log = logging.getLogger(__name__)

PREEMPH_COEFF = 0.97  # Kaldi's --preemphasis-coefficient
FLT_EPSILON = float(np.finfo(np.float32).eps)  # Kaldi floors the mel energies at this before the log


def mel_scale(freq: np.ndarray) -> np.ndarray:
    """Kaldi's mel scale (MelBanks::MelScale)."""
    return 1127.0 * np.log(1.0 + np.asarray(freq, dtype=np.float64) / 700.0)


def povey_window(length: int) -> np.ndarray:
    """Kaldi's default "povey" window: a Hann window (zero at both ends) raised to the power 0.85."""
    return (0.5 - 0.5 * np.cos(2.0 * math.pi * np.arange(length) / (length - 1))) ** 0.85


def mel_banks(config: FbankConfig, padded_length: int) -> np.ndarray:
    """(padded_length // 2 + 1, num_mel_bins) triangular weights on the power spectrum (Kaldi's MelBanks).

    The triangles are equally spaced on the mel scale between low_freq and high_freq (a
    high_freq <= 0 is an offset from Nyquist); as in Kaldi, the Nyquist bin (last row) has no weight.
    """
    rate, bins = config.sample_rate, config.num_mel_bins
    if bins < 3:
        raise ValueError(f"fbank: num_mel_bins {bins}: at least 3 mel bins are needed")
    nyquist = 0.5 * rate
    low = config.low_freq
    high = config.high_freq if config.high_freq > 0.0 else nyquist + config.high_freq
    if low < 0.0 or low >= nyquist or high <= 0.0 or high > nyquist or high <= low:
        raise ValueError(f"fbank: bad low_freq {config.low_freq} / high_freq {config.high_freq} "
                         f"(resolved {low:g} to {high:g} Hz) at {rate} Hz (Nyquist {nyquist:g} Hz)")
    mel_low, mel_high = mel_scale(low), mel_scale(high)
    delta = (mel_high - mel_low) / (bins + 1)
    left = mel_low + delta * np.arange(bins)
    center, right = left + delta, left + 2 * delta
    mel = mel_scale(np.arange(padded_length // 2) * (rate / padded_length))[:, None]
    rising, falling = (mel - left) / (center - left), (right - mel) / (right - center)
    weights = np.where((mel > left) & (mel < right), np.where(mel <= center, rising, falling), 0.0)
    return np.concatenate([weights, np.zeros((1, bins))])


class Fbank(torch.nn.Module):
    """Kaldi's FBank (``compute-fbank-feats``) as a batched torch module, on any device.

    ``forward(waveform (B, N) samples in [-1, 1], lengths (B,) samples or None) ->
    (feats (B, T, num_mel_bins), frame_lengths (B,))``: T is the number of frames of N samples
    and rows past an utterance's own ``frame_lengths[b]`` are zero; ``lengths[b] <= N``.  An
    utterance's features do not depend on its padding, so a batch gives each utterance the
    features it has alone.

    It computes on the int16 scale (samples x 32768), as Kaldi reads audio, so the features equal
    those of ``compute-fbank-feats`` (and of kaldi-native-fbank) on the same audio.  Per frame,
    Kaldi's steps with Kaldi's defaults for the options that ``FbankConfig`` does not have:
    dither (``config.dither``, Gaussian, independent per frame as in Kaldi; from ``generator``
    when given), DC offset removal, pre-emphasis 0.97 (the first sample of a frame minus 0.97 x
    itself), povey window, zero-padding to a power of two, power spectrum, mel banks, log of the
    energies floored at FLT_EPSILON.  Frames: ``snip_edges`` as in Kaldi (True: the
    ``1 + (n - L) // S`` frames wholly inside n samples, none if n < L; False: ``(n + S // 2) // S``
    frames centred on multiples of the shift, the signal mirrored at both ends).

    The spectrum is ``torch.fft.rfft`` rather than a matmul with a precomputed real DFT matrix
    (measured on one CPU thread, CPU time, 4-60 s of audio: rfft 2.3-2.8k x real time, matmul
    1.0-1.2k; the 512-point rfft of 6000 frames alone 3.5 ms, the 400 x 514 matmul 43 ms), cuFFT
    serves CUDA, and rfft exports to ONNX as a DFT op that ONNX Runtime runs (there the matmul form
    is faster, about 1000 vs 700 x real time, which does not outweigh torch, where the front end
    runs for the jobs, inference and training).  The module scripts (``torch.jit.script``;
    tracing would fix the input length) and exports with ``torch.onnx.export(dynamo=True)`` with
    dynamic batch and length.  On CPU, calls on more than about 1000 frames in all run faster in
    pieces (the spectra then stay in the caches), as :func:`compute_fbank` does.
    """

    def __init__(self, config: Optional[FbankConfig] = None):
        super().__init__()
        config = config or FbankConfig()
        length, shift = config.window_samples()
        if length < 2 or shift < 1:
            raise ValueError(f"fbank: frame_length_ms {config.frame_length_ms} / frame_shift_ms "
                             f"{config.frame_shift_ms} give {length} / {shift} samples at {config.sample_rate} Hz")
        self.frame_length = length
        self.frame_shift = shift
        self.padded_length = 1 << (length - 1).bit_length()  # Kaldi's round_to_power_of_two
        self.sample_rate = config.sample_rate
        self.num_mel_bins = config.num_mel_bins
        self.dither = float(config.dither)
        self.snip_edges = bool(config.snip_edges)
        self.int16_scale = INT16_SCALE  # attributes, not globals, for TorchScript
        self.preemph_coeff = PREEMPH_COEFF
        self.log_floor = FLT_EPSILON
        # derived from the config, so not saved in state dicts
        self.register_buffer("window", torch.tensor(povey_window(length), dtype=torch.float32), persistent=False)
        self.register_buffer("mel_banks", torch.tensor(mel_banks(config, self.padded_length), dtype=torch.float32),
                             persistent=False)

    def num_frames(self, lengths: torch.Tensor) -> torch.Tensor:
        """Frames of utterances of ``lengths`` samples (as :meth:`FbankConfig.num_frames`)."""
        if self.snip_edges:
            n = torch.div(lengths - self.frame_length, self.frame_shift, rounding_mode="floor") + 1
            return torch.where(lengths >= self.frame_length, n, torch.zeros_like(n))
        return torch.div(lengths + self.frame_shift // 2, self.frame_shift, rounding_mode="floor")

    def frames(self, waveform: torch.Tensor, lengths: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(B, T, frame_length) frames of ``waveform`` on the int16 scale (a view when snip_edges)."""
        if waveform.dim() != 2:
            raise ValueError(f"Fbank: waveform must be (batch, samples), got shape {list(waveform.shape)}")
        x = waveform.to(self.window.dtype) * self.int16_scale
        n = x.size(1)
        if self.snip_edges:
            t = 1 + (n - self.frame_length) // self.frame_shift if n >= self.frame_length else 0
        else:
            t = (n + self.frame_shift // 2) // self.frame_shift
        if t == 0:
            return x.new_zeros((x.size(0), 0, self.frame_length))
        if not self.snip_edges:
            # frame i starts at i * S + S // 2 - L // 2; samples outside [0, n_b) mirror into it
            # (-1 -> 0, n_b -> n_b - 1, repeatedly for short input), n_b per utterance, as Kaldi
            span = (t - 1) * self.frame_shift + self.frame_length
            pos = torch.arange(span, device=x.device) + (self.frame_shift // 2 - self.frame_length // 2)
            if lengths is None:
                lengths = torch.full((x.size(0),), n, dtype=torch.long, device=x.device)
            size = lengths.to(torch.long).clamp_min(1).unsqueeze(1)
            pos = torch.remainder(pos.unsqueeze(0), 2 * size)
            x = torch.gather(x, 1, torch.where(pos >= size, 2 * size - 1 - pos, pos))
        return x.unfold(1, self.frame_length, self.frame_shift)

    def frame_features(self, frames: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """Log-mel energies (..., num_mel_bins) of frames (..., frame_length) on the int16 scale."""
        if self.dither != 0.0:
            noise = torch.randn(frames.shape, generator=generator, dtype=frames.dtype, device=frames.device)
            frames = frames + self.dither * noise
        frames = frames - frames.mean(-1, keepdim=True)
        frames = torch.cat([frames[..., :1] * (1.0 - self.preemph_coeff),
                            frames[..., 1:] - self.preemph_coeff * frames[..., :-1]], -1)
        spectrum = torch.fft.rfft(frames * self.window, n=self.padded_length)
        power = spectrum.real.square() + spectrum.imag.square()
        return self._mel_energies(power).clamp_min(self.log_floor).log()

    def _mel_energies(self, power: torch.Tensor) -> torch.Tensor:
        # in float32 under autocast too (training): power spectra on the int16 scale reach 1e14,
        # which overflows float16, and bfloat16 would be off by ~1e-2 in the log
        if torch.jit.is_scripting():  # TorchScript wants a constant device type; it does not autocast
            return torch.matmul(power, self.mel_banks)
        with torch.autocast(device_type=power.device.type, enabled=False):
            return torch.matmul(power, self.mel_banks)

    def forward(self, waveform: torch.Tensor, lengths: Optional[torch.Tensor] = None,
                generator: Optional[torch.Generator] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        if lengths is None:
            lengths = torch.full((waveform.size(0),), waveform.size(-1), dtype=torch.long, device=waveform.device)
        feats = self.frame_features(self.frames(waveform, lengths), generator)
        frame_lengths = self.num_frames(lengths.to(torch.long))
        valid = torch.arange(feats.size(1), device=feats.device).unsqueeze(0) < frame_lengths.unsqueeze(1)
        return feats.masked_fill(~valid.unsqueeze(-1), 0.0), frame_lengths


@functools.lru_cache(maxsize=8)
def _fbank_module(options: tuple) -> Fbank:
    return Fbank(FbankConfig(*options)).eval()


# Frames per block in compute_fbank: the spectra of a whole long utterance at once overflow the CPU
# caches (one thread, 60 s of speech: 2.2-4.1k x real time in one go, 6.8-7.0k in blocks of 500 frames,
# 6.1-6.8k of 1000, 5.3-5.9k of 2000).
BLOCK_FRAMES = 500


def compute_fbank(samples: np.ndarray, sample_rate: int, config: FbankConfig) -> np.ndarray:
    """(frames, num_mel_bins) float32 log-mel energies of mono samples in [-1, 1] (:class:`Fbank` on CPU)."""
    if sample_rate != config.sample_rate:
        raise AudioError(f"audio at {sample_rate} Hz but the fbank config expects {config.sample_rate} Hz")
    samples = np.asarray(samples)
    if samples.ndim != 1:
        raise AudioError(f"audio of shape {samples.shape}: expected mono samples (1-D)")
    fbank = _fbank_module(astuple(config))
    with torch.inference_mode():
        frames = fbank.frames(torch.from_numpy(samples.astype(np.float32, copy=False)).unsqueeze(0))[0]
        if len(frames) == 0:
            raise AudioError(f"audio of {len(samples)} samples is shorter than one {config.frame_length_ms} ms frame")
        feats = [fbank.frame_features(frames[i:i + BLOCK_FRAMES]) for i in range(0, len(frames), BLOCK_FRAMES)]
        return torch.cat(feats).numpy()


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
