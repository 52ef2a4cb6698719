"""Open phone-loop recognition with pocketsphinx (``allphone`` search with its phone bigram LM).

The language weight sets how much the phone bigram overrules the acoustics; decodings at several
weights hear different phones (parallel phone recognition, as PPRLM runs several recognisers).

The US-English continuous model and phone LM ship inside the ``pocketsphinx`` wheel: nothing is
downloaded.  The model is 16 kHz; audio at another rate is resampled (scipy) before decoding.
Silence and noise tokens are dropped from the output.
"""

from __future__ import annotations

import os
from math import gcd
from typing import Dict, List, Sequence

import numpy as np

MODEL_RATE = 16000
NON_PHONES = {"SIL", "+SPN+", "+NSN+", "+BREATH+", "+COUGH+", "+NOISE+", "+SMACK+", "+UM+", "+UH+"}


class PhoneRecognizer:
    """``recognize(samples in [-1, 1], sample_rate) -> ["DH", "IY", ...]`` (ARPAbet, no stress)."""

    def __init__(self, language_weight: float = 2.0):
        try:
            from pocketsphinx import Decoder, get_model_path
        except ImportError as e:  # pragma: no cover - a declared dependency
            raise ImportError("phonotactic recognition needs pocketsphinx (pip install pocketsphinx)") from e
        model = get_model_path()
        self._decoder = Decoder(hmm=os.path.join(model, "en-us", "en-us"),
                                allphone=os.path.join(model, "en-us", "en-us-phone.lm.bin"),
                                lw=float(language_weight), beam=1e-10, pbeam=1e-10, samprate=MODEL_RATE,
                                logfn=os.devnull)

    def recognize(self, samples: np.ndarray, sample_rate: int) -> List[str]:
        x = np.asarray(samples, dtype=np.float32)
        if x.ndim != 1:
            raise ValueError(f"phone recognition needs mono samples, got shape {x.shape}")
        if sample_rate != MODEL_RATE:
            from scipy.signal import resample_poly

            g = gcd(int(sample_rate), MODEL_RATE)
            x = resample_poly(x, MODEL_RATE // g, int(sample_rate) // g).astype(np.float32)
        pcm = (np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2")
        d = self._decoder
        d.start_utt()
        d.process_raw(pcm.tobytes(), full_utt=True)
        d.end_utt()
        return [s.word for s in d.seg() if s.word not in NON_PHONES]


_recognizers: Dict[float, PhoneRecognizer] = {}


def recognize_entry(entry: str, language_weights: Sequence[float]) -> List[str]:
    """The phone strings of one wav.scp entry, one per language weight: the audio is read once
    (recognisers are kept per process, for worker pools)."""
    from accent.data.audio import read_wav_scp_entry

    samples, rate = read_wav_scp_entry(entry)
    out = []
    for lw in map(float, language_weights):
        if lw not in _recognizers:
            _recognizers[lw] = PhoneRecognizer(lw)
        out.append(" ".join(_recognizers[lw].recognize(samples, rate)))
    return out
