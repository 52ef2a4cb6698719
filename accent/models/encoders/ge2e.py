"""The GE2E speaker encoder (Wan et al. 2018, "Generalized end-to-end loss for speaker
verification") with the pretrained weights that Resemblyzer ships in its wheel, as an encoder: raw
16 kHz waveform in, a learnable weighted sum of its layers' frames out.

    waveform (B, S, 1) -> gain to -30 dBFS (raise only) -> mel power spectrogram (40 bins, 25/10 ms,
    librosa's) -> LSTM 256 -> LSTM 256 -> LSTM 256 -> ReLU(Linear 256) -> softmax(w) . [4 streams]
    -> (B, 1 + S // 160, 256)

Why it is here: it is the one model trained on thousands of real speakers (LibriSpeech, VoxCeleb 1
and 2) that installs offline (``pip install 'accent[ge2e]'``; its ``pretrained.pt`` is in the
wheel), and an accent is, among other things, a property of the voice that such a model has learnt
to describe.  On small real corpora it starts far above any encoder trained from scratch.

The mel front end is librosa's ``melspectrogram`` (centred frames, zero padding, periodic Hann
window, power 2, Slaney mel banks from ``librosa.filters.mel``), the input the weights were
trained on, written in torch so that it batches, trains on the GPU and exports; tests compare it
with librosa and the whole network with Resemblyzer's ``VoiceEncoder``.  The LSTMs run
left to right, so padding at the end of an utterance never changes its valid frames.

Training modes (as the ``ssl`` encoder): ``freeze: true`` (the pretrained network fixed, only the
layer weights and what sits on top learn), ``freeze: false`` (fine-tuning at ``lr_scale`` x the
learning rate) and ``unfreeze_after_steps: N`` (frozen for the first N optimiser steps).
"""

from __future__ import annotations

import contextlib
import importlib.util
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence

import torch
import torch.nn as nn

from ..masking import valid_mask, zero_padding
from ..registry import ENCODERS
from .pretrained import FreezeSchedule, weighted_layer_sum

SAMPLE_RATE = 16000
N_FFT, HOP, N_MELS, HIDDEN, LAYERS = 400, 160, 40, 256, 3
TARGET_DBFS = -30.0  # Resemblyzer's audio_norm_target_dBFS
STREAMS = ("lstm1", "lstm2", "lstm3", "embedding")


def resemblyzer_weights() -> Path:
    """The ``pretrained.pt`` of the installed Resemblyzer package, found without importing it
    (its ``__init__`` imports webrtcvad and librosa)."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the ge2e encoder's pretrained weights come with Resemblyzer: pip install 'accent[ge2e]'")
    path = Path(list(spec.submodule_search_locations)[0]) / "pretrained.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: Resemblyzer is installed without its pretrained.pt")
    return path


def slaney_mel_banks() -> torch.Tensor:
    """(N_FFT // 2 + 1, N_MELS) mel banks of librosa's ``melspectrogram`` at 16 kHz."""
    try:
        import librosa
    except ImportError:
        raise ImportError("the ge2e encoder builds its mel banks with librosa: pip install 'accent[ge2e]'") from None
    return torch.from_numpy(librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS)).float().T.contiguous()


def _load_weights(path: Path) -> Dict[str, torch.Tensor]:
    """Resemblyzer's state dict (``lstm.*_l{i}``, ``linear.*``) under this module's names."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        state = state.get("model_state", state)
    except Exception as e:
        raise ValueError(f"{path}: not a GE2E checkpoint ({e})") from None
    out = {}
    for key, value in state.items():
        if key.startswith("lstm."):
            name, layer = key[len("lstm."):].rsplit("_l", 1)
            out[f"lstm.{layer}.{name}_l0"] = value
        elif key.startswith("linear."):
            out[key] = value
    return out


@ENCODERS.register("ge2e")
class Ge2eEncoder(FreezeSchedule, nn.Module):
    """``forward(waveform (B,S,1) or (B,S) at 16 kHz in [-1, 1], lengths in samples) -> ((B,T',256), lengths')``.

    Config: ``weights`` ("resemblyzer": the installed package's ``pretrained.pt``, the default; a
    path to such a file; null: random initialisation, as a checkpoint rebuilds it before loading its
    own state dict); ``layers`` (streams in the weighted sum, of lstm1, lstm2, lstm3, embedding;
    default all); ``normalize_volume`` (true: Resemblyzer's gain to -30 dBFS, raise only);
    ``freeze`` (true), ``unfreeze_after_steps`` (0), ``lr_scale`` (1.0).
    """

    def __init__(
        self,
        input_dim: int = 1,
        weights: Optional[str] = "resemblyzer",
        layers: Optional[Sequence[str]] = None,
        normalize_volume: bool = True,
        freeze: bool = True,
        unfreeze_after_steps: int = 0,
        lr_scale: float = 1.0,
    ):
        super().__init__()
        if int(input_dim) != 1:
            raise ValueError(f"the ge2e encoder takes the 16 kHz waveform (input_dim 1), got {input_dim}-dim "
                             "features: set data.features: waveform")
        self.layers = list(STREAMS) if layers is None else [str(s) for s in layers]
        bad = [s for s in self.layers if s not in STREAMS]
        if bad or not self.layers or len(set(self.layers)) != len(self.layers):
            raise ValueError(f"ge2e encoder: layers must be distinct streams of {', '.join(STREAMS)}, got {layers}")
        self.normalize_volume = bool(normalize_volume)
        self.register_buffer("window", torch.hann_window(N_FFT, periodic=True), persistent=False)
        self.register_buffer("mel_banks", slaney_mel_banks(), persistent=False)
        # one module per layer: the weighted sum needs every layer's frames
        self.lstm = nn.ModuleList(nn.LSTM(N_MELS if i == 0 else HIDDEN, HIDDEN, batch_first=True) for i in range(LAYERS))
        self.linear = nn.Linear(HIDDEN, HIDDEN)
        if weights is not None:
            path = resemblyzer_weights() if weights == "resemblyzer" else Path(weights).expanduser()
            if not path.is_file():
                raise FileNotFoundError(f"ge2e encoder weights {path}: no such file")
            try:
                missing, unexpected = self.load_state_dict(_load_weights(path), strict=False)
            except RuntimeError as e:  # shapes of another network
                raise ValueError(f"{path}: not a GE2E checkpoint ({e})") from None
            if missing or unexpected:
                raise ValueError(f"{path}: not a GE2E checkpoint (missing {missing}, unexpected {unexpected})")
        self.layer_weights = nn.Parameter(torch.zeros(len(self.layers)))
        self._pretrained = [*self.lstm, self.linear]  # what freezing and lr_scale act on (a plain list: no second state-dict name)
        for module in self._pretrained:
            module.lr_scale = float(lr_scale)
        self.init_freeze_schedule(freeze, unfreeze_after_steps, self._pretrained, "ge2e encoder")
        self.output_dim = HIDDEN
        self.subsampling_factor = HOP

    @staticmethod
    def options_for_state_dict(options: Mapping[str, Any]) -> Dict[str, Any]:
        """A checkpoint's state dict holds the weights: no file is read when it is loaded."""
        return {**options, "weights": None}

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        return torch.div(lengths, HOP, rounding_mode="floor") + 1

    def mel_power(self, wav: torch.Tensor) -> torch.Tensor:
        """(B, 1 + S // 160, 40) mel power spectrogram of (B, S) zero-padded samples (librosa's)."""
        x = nn.functional.pad(wav, (N_FFT // 2, N_FFT // 2))
        frames = x.unfold(1, N_FFT, HOP) * self.window
        with torch.autocast(device_type=wav.device.type, enabled=False):
            spectrum = torch.fft.rfft(frames.float(), n=N_FFT)
            return torch.matmul(spectrum.real.square() + spectrum.imag.square(), self.mel_banks)

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor):
        wav = feats.squeeze(-1) if feats.dim() == 3 else feats
        lengths = lengths.to(wav.device)
        mask = valid_mask(lengths, wav.size(1)).to(wav.dtype)
        wav = wav * mask
        if self.normalize_volume:  # the gain that brings the utterance to -30 dBFS, if it raises it
            rms = ((wav.square().sum(1, keepdim=True) / mask.sum(1, keepdim=True).clamp_min(1.0)).sqrt())
            wav = wav * (10.0 ** (TARGET_DBFS / 20.0) / rms.clamp_min(1e-8)).clamp_min(1.0)
        frozen = self.frozen_now
        for module in self._pretrained:
            module.train(self.training and not frozen)
        with torch.no_grad() if frozen else contextlib.nullcontext():
            x = self.mel_power(wav)
            streams = []
            for lstm in self.lstm:
                x, _ = lstm(x)
                streams.append(x)
            streams.append(torch.relu(self.linear(x)))
        chosen = torch.stack([streams[STREAMS.index(s)] for s in self.layers])  # (L, B, T', 256)
        frames = weighted_layer_sum(chosen, self.layer_weights)
        out_lengths = self.output_lengths(lengths).long()
        return zero_padding(frames, valid_mask(out_lengths, frames.size(1)), 1), out_lengths
