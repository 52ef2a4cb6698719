"""On-the-fly waveform augmentation for training on small real corpora (WeSpeaker/SpeechBrain style).

Per training crop, each with its own probability, in this order:

* ``speed``: Kaldi/sox-style speed perturbation (tempo and pitch together) by resampling, factor
  drawn from ``factors``;
* ``reverb``: convolution with a room impulse response drawn from a bank simulated once with
  pyroomacoustics (image-source shoebox rooms, RT60 drawn from ``rt60``), the direct path kept
  aligned;
* ``noise``: additive noise at an SNR drawn uniformly from ``snr``: *babble* (the sum of
  ``babble_speakers`` other crops of the same batch: noise from the training audio itself) with
  probability ``babble_prob``, else coloured noise (white, pink or brown);
* ``band_limit``: a low-pass at a cutoff drawn from ``cutoff_hz`` (telephone and 8 kHz-sourced
  audio inside a 16 kHz model).

All draws come from an explicit ``numpy.random.Generator`` seeded per crop, so a batch is the
same whichever worker builds it and after a resumption.

Config (the ``data.augment`` section; a missing or null entry disables that kind)::

    speed: {prob: 0.3, factors: [0.9, 1.1]}
    reverb: {prob: 0.3, num_rirs: 64, rt60: [0.2, 0.8], seed: 0}
    noise: {prob: 0.6, babble_prob: 0.5, snr: [5, 20], babble_speakers: [3, 6]}
    band_limit: {prob: 0.0, cutoff_hz: [3400, 4000]}
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

KINDS = {
    "speed": {"prob": 0.3, "factors": [0.9, 1.1]},
    "reverb": {"prob": 0.3, "num_rirs": 64, "rt60": [0.2, 0.8], "seed": 0},
    "noise": {"prob": 0.6, "babble_prob": 0.5, "snr": [5.0, 20.0], "babble_speakers": [3, 6]},
    "band_limit": {"prob": 0.0, "cutoff_hz": [3400.0, 4000.0]},
}


def add_noise(signal: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``signal + g * noise`` with g chosen so that power(signal) / power(g * noise) = snr_db."""
    ps = float(np.mean(np.square(signal, dtype=np.float64)))
    pn = float(np.mean(np.square(noise, dtype=np.float64)))
    if pn <= 0.0 or ps <= 0.0:
        return signal.copy()
    gain = np.sqrt(ps / (pn * 10.0 ** (snr_db / 10.0)))
    return (signal + gain * noise).astype(signal.dtype, copy=False)


def coloured_noise(num_samples: int, beta: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance noise with power spectrum ~ 1/f^beta (0 white, 1 pink, 2 brown)."""
    spectrum = np.fft.rfft(rng.standard_normal(num_samples))
    f = np.arange(len(spectrum), dtype=np.float64)
    f[0] = 1.0
    x = np.fft.irfft(spectrum / f ** (beta / 2.0), num_samples)
    return (x / (x.std() + 1e-12)).astype(np.float32)


def speed_perturb(signal: np.ndarray, factor: float) -> np.ndarray:
    """Play ``signal`` ``factor`` times faster (sox ``speed``): resampled by 1/factor."""
    from fractions import Fraction

    from scipy.signal import resample_poly

    ratio = Fraction(factor).limit_denominator(100)
    return resample_poly(signal, ratio.denominator, ratio.numerator).astype(np.float32)


def low_pass(signal: np.ndarray, sample_rate: int, cutoff_hz: float) -> np.ndarray:
    from scipy.signal import butter, sosfiltfilt

    if cutoff_hz >= sample_rate / 2:
        return signal
    sos = butter(8, cutoff_hz, btype="low", fs=sample_rate, output="sos")
    return sosfiltfilt(sos, signal).astype(np.float32)


class RirBank:
    """``num_rirs`` room impulse responses of random shoebox rooms (pyroomacoustics), made once
    (lazily: in the worker that first needs them) from ``seed``; the same bank in every process."""

    def __init__(self, sample_rate: int, num_rirs: int = 64, rt60: Sequence[float] = (0.2, 0.8), seed: int = 0):
        self.sample_rate, self.num_rirs, self.rt60, self.seed = int(sample_rate), int(num_rirs), tuple(rt60), int(seed)
        self._rirs: Optional[List[np.ndarray]] = None

    def _simulate(self) -> List[np.ndarray]:
        try:
            import pyroomacoustics as pra
        except ImportError as e:  # pragma: no cover - a declared dependency
            raise ImportError("data.augment.reverb needs pyroomacoustics (pip install pyroomacoustics)") from e
        rng = np.random.default_rng(self.seed)
        rirs = []
        while len(rirs) < self.num_rirs:
            dims = rng.uniform([3.0, 3.0, 2.4], [10.0, 8.0, 4.0])
            rt60 = rng.uniform(*self.rt60)
            try:
                absorption, max_order = pra.inverse_sabine(rt60, dims)
            except ValueError:  # this RT60 is impossible in this room: draw another
                continue
            room = pra.ShoeBox(dims, fs=self.sample_rate, materials=pra.Material(absorption),
                               max_order=min(int(max_order), 15))
            room.add_source(rng.uniform(0.5, dims - 0.5))
            room.add_microphone(rng.uniform(0.5, dims - 0.5))
            room.compute_rir()
            h = np.asarray(room.rir[0][0], dtype=np.float64)
            peak = int(np.argmax(np.abs(h)))
            h = h[max(0, peak - int(0.001 * self.sample_rate)):]  # keep the direct path aligned
            rirs.append((h / np.sqrt(np.sum(h * h))).astype(np.float32))
        return rirs

    def __len__(self) -> int:
        return self.num_rirs

    def __getitem__(self, i: int) -> np.ndarray:
        if self._rirs is None:
            self._rirs = self._simulate()
        return self._rirs[i]


class WaveAugment:
    """The augmentation chain of the module docstring, from the ``data.augment`` config."""

    def __init__(self, config: Optional[Mapping[str, Any]], sample_rate: int):
        config = dict(config or {})
        unknown = set(config) - set(KINDS)
        if unknown:
            raise ValueError(f"data.augment: unknown kinds {sorted(unknown)}; known: {sorted(KINDS)}")
        self.cfg: Dict[str, Dict[str, Any]] = {}
        for kind, value in config.items():
            if not value:
                continue
            bad = set(value) - set(KINDS[kind])
            if bad:
                raise ValueError(f"data.augment.{kind}: unknown keys {sorted(bad)}; known: {sorted(KINDS[kind])}")
            c = {**KINDS[kind], **value}
            if not 0.0 <= float(c["prob"]) <= 1.0:
                raise ValueError(f"data.augment.{kind}.prob must be in [0, 1], got {c['prob']}")
            self.cfg[kind] = c
        self.sample_rate = int(sample_rate)
        r = self.cfg.get("reverb")
        self.rirs = RirBank(sample_rate, r["num_rirs"], r["rt60"], r["seed"]) if r else None

    def __bool__(self) -> bool:
        return bool(self.cfg)

    def _on(self, kind: str, rng: np.random.Generator) -> bool:
        c = self.cfg.get(kind)
        return c is not None and rng.random() < float(c["prob"])

    def speed_factor(self, rng: np.random.Generator) -> float:
        """1.0, or a factor of ``speed.factors`` (drawn before the crop is read: it sets its length)."""
        if not self._on("speed", rng):
            return 1.0
        return float(rng.choice(self.cfg["speed"]["factors"]))

    def batch(self, crops: np.ndarray, rngs: Sequence[np.random.Generator]) -> np.ndarray:
        """Reverb, noise and band limits on a (B, N) batch of clean crops, one generator each;
        babble for crop i is the sum of other crops of the clean batch."""
        clean = crops
        out = np.empty_like(crops)
        b, n = crops.shape
        for i, rng in enumerate(rngs):
            x = clean[i]
            if self.rirs is not None and self._on("reverb", rng):
                from scipy.signal import fftconvolve

                x = fftconvolve(x, self.rirs[int(rng.integers(len(self.rirs)))])[:n].astype(np.float32)
            if self._on("noise", rng):
                c = self.cfg["noise"]
                lo, hi = c["babble_speakers"]
                if b > 1 and rng.random() < float(c["babble_prob"]):
                    others = [j for j in range(b) if j != i]
                    k = min(len(others), int(rng.integers(int(lo), int(hi) + 1)))
                    noise = clean[rng.choice(others, size=k, replace=False)].sum(axis=0)
                else:
                    noise = coloured_noise(n, float(rng.choice([0.0, 1.0, 2.0])), rng)
                x = add_noise(x, noise, float(rng.uniform(*c["snr"])))
            if self._on("band_limit", rng):
                x = low_pass(x, self.sample_rate, float(rng.uniform(*self.cfg["band_limit"]["cutoff_hz"])))
            out[i] = x
        return out
