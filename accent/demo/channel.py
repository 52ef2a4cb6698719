"""Recording-condition simulation: noise, level, band-limiting, tilt, reverb, silences.

Synthetic speech is perfectly clean and every espeak voice has a fixed
long-term spectrum, so without a channel model an utterance-level spectrum
classifier separates the accents trivially.  Real AESRC2020 speakers recorded
themselves on their own phones in their own rooms; we mimic that with one
:class:`ChannelProfile` per speaker (session), drawn *independently of the
accent*, so that the channel is a nuisance a classifier has to ignore rather
than a shortcut it can learn.  Per utterance, the environment varies around
the session's values (noise type and SNR, reverberation, level, leading and
trailing silence).

The ranges are tuned so that a mean+std pooled log-mel + logistic regression
baseline stays far from perfect on speaker-disjoint splits (see the report in
``accent/demo/__init__.py``); the harder nuisance for it turned out to be the
voice timbre (speakers), not the channel, so the channel is moderate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.signal import butter, fftconvolve, sosfilt

RATE = 16000
NOISE_KINDS: tuple[str, ...] = ("white", "pink", "brown", "babble", "hum")


@dataclass(frozen=True)
class ChannelProfile:
    """Recording conditions of one speaker's session: a device and a room.

    The device (level, band limits, tilt) is fixed for the session; the acoustic
    environment varies per utterance around the session's typical values, as for
    someone recording prompts at home over an afternoon.
    """

    level_dbfs: float  # RMS level of the speech
    highpass_hz: float  # 0: off
    lowpass_hz: float  # 0: off
    tilt: float  # first-order spectral tilt, y[n] = x[n] - tilt * x[n-1] (negative boosts lows)
    snr_db: float  # typical speech-to-noise ratio; each utterance jitters around it
    noise_kinds: tuple[str, ...]  # background noises of the room, one drawn per utterance
    reverb_prob: float  # probability that an utterance is reverberant
    reverb_rt60: float  # seconds
    reverb_wet: float  # reverberant-to-direct energy ratio


def draw_channel(rng: np.random.Generator, studio: bool = False) -> ChannelProfile:
    """A random session.  ``studio`` gives audiobook-like conditions (LibriSpeech)."""
    if studio:
        return ChannelProfile(
            level_dbfs=float(rng.uniform(-30.0, -20.0)),
            highpass_hz=float(rng.uniform(40.0, 120.0)),
            lowpass_hz=float(rng.choice([0.0, rng.uniform(5500.0, 7500.0)])),
            tilt=float(rng.uniform(-0.3, 0.3)),
            snr_db=float(rng.uniform(25.0, 45.0)),
            noise_kinds=(str(rng.choice(["white", "pink", "brown"])),),
            reverb_prob=float(rng.choice([0.0, 1.0])),
            reverb_rt60=float(rng.uniform(0.1, 0.3)),
            reverb_wet=float(rng.uniform(0.05, 0.2)),
        )
    if rng.random() < 0.05:  # telephone-band recording
        highpass, lowpass = float(rng.uniform(250.0, 400.0)), float(rng.uniform(3200.0, 3600.0))
    else:
        highpass = float(rng.uniform(30.0, 200.0))
        lowpass = float(rng.uniform(4000.0, 7500.0)) if rng.random() < 0.2 else 0.0
    return ChannelProfile(
        level_dbfs=float(rng.uniform(-28.0, -22.0)),
        highpass_hz=highpass,
        lowpass_hz=lowpass,
        tilt=float(rng.uniform(-0.15, 0.15)),
        snr_db=float(rng.uniform(12.0, 35.0)),
        noise_kinds=tuple(str(k) for k in rng.choice(NOISE_KINDS, size=2, replace=False)),
        reverb_prob=float(rng.choice([0.0, 0.3, 0.7])),
        reverb_rt60=float(rng.uniform(0.15, 0.5)),
        reverb_wet=float(rng.uniform(0.1, 0.4)),
    )


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)) + 1e-12))


def _coloured_noise(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Noise with power spectrum ~ 1/f**exponent (0 white, 1 pink, 2 brown)."""
    white = rng.standard_normal(n)
    if exponent == 0.0:
        return white
    spec = np.fft.rfft(white)
    f = np.fft.rfftfreq(n, 1.0 / RATE)
    f[0] = f[1] if n > 1 else 1.0
    spec *= f ** (-exponent / 2.0)
    return np.fft.irfft(spec, n)


def _babble(n: int, bank: Sequence[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Several overlapping talkers taken from other synthetic utterances."""
    if not bank:
        return _coloured_noise(n, 1.0, rng)
    out = np.zeros(n)
    for _ in range(int(rng.integers(3, 7))):
        clip = bank[int(rng.integers(len(bank)))]
        reps = int(np.ceil((n + len(clip)) / max(len(clip), 1)))
        tiled = np.tile(clip, reps)
        start = int(rng.integers(0, len(clip)))
        out += tiled[start:start + n] * rng.uniform(0.5, 1.0)
    return out + 0.05 * _rms(out) * rng.standard_normal(n)


def _hum(n: int, rng: np.random.Generator) -> np.ndarray:
    """Mains hum (50 or 60 Hz and harmonics) over a pink floor."""
    t = np.arange(n) / RATE
    f0 = 50.0 if rng.random() < 0.5 else 60.0
    hum = sum(rng.uniform(0.2, 1.0) / k * np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 2 * np.pi))
              for k in range(1, 6))
    pink = _coloured_noise(n, 1.0, rng)
    return hum / _rms(hum) + 0.5 * pink / _rms(pink)


def make_noise(kind: str, n: int, rng: np.random.Generator, bank: Sequence[np.ndarray]) -> np.ndarray:
    if kind == "white":
        return _coloured_noise(n, 0.0, rng)
    if kind == "pink":
        return _coloured_noise(n, 1.0, rng)
    if kind == "brown":
        return _coloured_noise(n, 2.0, rng)
    if kind == "babble":
        return _babble(n, bank, rng)
    if kind == "hum":
        return _hum(n, rng)
    raise ValueError(f"unknown noise kind {kind!r}; expected one of {NOISE_KINDS}")


def _reverb(x: np.ndarray, rt60: float, wet: float, rng: np.random.Generator) -> np.ndarray:
    """Exponentially decaying noise as a small-room impulse response."""
    n = max(int(rt60 * RATE), 16)
    env = np.exp(-6.9 * np.arange(n) / n)  # 60 dB decay over rt60
    rir = rng.standard_normal(n) * env
    rir[:16] *= np.linspace(0.0, 1.0, 16)  # no energy before the direct sound
    tail = fftconvolve(x, rir)[: len(x)]
    return x + tail * (np.sqrt(wet) * _rms(x) / _rms(tail))


def apply_channel(speech: np.ndarray, profile: ChannelProfile, rng: np.random.Generator,
                  babble_bank: Sequence[np.ndarray] = ()) -> np.ndarray:
    """Place ``speech`` (clean, 16 kHz) in the session's recording conditions.

    Returns float32 in [-1, 1] with random leading/trailing silence (room noise).
    """
    speech = speech.astype(np.float64)
    speech_rms = _rms(speech)
    lead = int(rng.uniform(0.1, 0.8) * RATE)
    trail = int(rng.uniform(0.1, 0.8) * RATE)
    x = np.concatenate([np.zeros(lead), speech, np.zeros(trail)])
    if rng.random() < profile.reverb_prob:
        x = _reverb(x, profile.reverb_rt60 * rng.uniform(0.8, 1.2), profile.reverb_wet, rng)
    snr = profile.snr_db + rng.uniform(-4.0, 4.0)
    kind = profile.noise_kinds[int(rng.integers(len(profile.noise_kinds)))]
    noise = make_noise(kind, len(x), rng, babble_bank)
    x = x + noise * (speech_rms / _rms(noise) / 10 ** (snr / 20.0))
    if profile.tilt:
        x = np.append(x[0], x[1:] - profile.tilt * x[:-1])
    if profile.highpass_hz > 0:
        x = sosfilt(butter(4, profile.highpass_hz, "highpass", fs=RATE, output="sos"), x)
    if 0 < profile.lowpass_hz < RATE / 2 - 100:
        x = sosfilt(butter(6, profile.lowpass_hz, "lowpass", fs=RATE, output="sos"), x)
    level = profile.level_dbfs + rng.normal(0.0, 1.0)
    x *= 10 ** (level / 20.0) / _rms(x[lead:lead + len(speech)])
    peak = float(np.max(np.abs(x)))
    if peak > 0.99:  # a real recorder's AGC: avoid clipping rather than clip
        x *= 0.99 / peak
    return x.astype(np.float32)
