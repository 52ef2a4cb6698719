"""Self-supervised speech models (WavLM, HuBERT, wav2vec 2.0, XLS-R) of Hugging Face ``transformers``
as an encoder: raw waveform in, a learnable SUPERB-style weighted sum of their hidden layers out.

    waveform (B, S, 1) -> [per-utterance normalisation] -> CNN feature encoder (x320) -> projection
    -> Transformer layers -> softmax(w) . [hidden states 0..L] -> (B, T', H) [-> backend encoder]

The model comes from ``path`` (a local directory written by ``save_pretrained`` or
``huggingface-cli download``, read with ``local_files_only``; a hub id fetches only on a machine
that is online) or, without ``path``, is built randomly initialised from ``hf_config`` (a
``transformers`` config as a dict, ``model_type`` included).  The trainer writes the model's whole
config into ``hf_config`` (:meth:`SslEncoder.complete_options`), so a checkpoint rebuilds the
architecture without the directory and takes the weights from its own state dict.
``transformers`` is imported only when such an encoder is built: the rest of the toolkit works
without it (``pip install 'accent[ssl]'``).

Training modes: ``freeze: true`` (the SSL model fixed: eval mode, no gradients, excluded from the
optimiser; only the layer weights and what sits on top learn), ``freeze: false`` (fine-tuning;
``freeze_feature_encoder: true``, the default, keeps the CNN fixed, as every wav2vec 2.0 recipe
does), and ``unfreeze_after_steps: N`` with ``freeze: false`` (the first N optimiser steps as if
frozen, then fine-tuning; the trainer tells the step through :func:`set_training_step`).

Padding: a padded batch gives each utterance what it gets alone (eval mode).  Models with
``feat_extract_norm: layer`` (XLS-R, the large models) normalise per frame, so the attention mask
suffices.  The base models (``group``: wav2vec2-base, HuBERT-base, WavLM-base+) normalise each
channel of the first CNN layer over the whole time axis (GroupNorm with a group per channel), so
padding changes every frame; HF's advice is to pass no attention mask and accept it.  Here that
GroupNorm is replaced by one over the valid frames only (same parameters, same state-dict keys;
equal to it on unpadded input), and the attention mask is passed, which makes padded batches exact.
"""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..registry import ENCODERS
from ..masking import masked_mean_std, valid_mask, zero_padding
from .pretrained import FreezeSchedule, weighted_layer_sum

FAMILIES = ("wavlm", "hubert", "wav2vec2")  # transformers model_type (XLS-R is a wav2vec2)
# config keys that name the file or the library rather than the architecture
_VOLATILE = ("transformers_version", "torch_dtype", "dtype", "architectures")


def _transformers():
    try:
        import transformers
    except ImportError:
        raise ImportError("the ssl encoder needs the 'transformers' package: pip install 'accent[ssl]' "
                          "(transformers>=4.40)") from None
    transformers.utils.logging.disable_progress_bar()
    return transformers


def _source(path: str) -> Dict[str, Any]:
    """``from_pretrained`` arguments of a local directory (never the network) or a hub id."""
    p = Path(path).expanduser()
    if p.is_dir():
        return {"pretrained_model_name_or_path": str(p), "local_files_only": True}
    if p.exists() or str(path).startswith((".", "/", "~")) or str(path).count("/") != 1:
        raise FileNotFoundError(f"ssl encoder path {path}: no such model directory (download one on an online "
                                "machine: huggingface-cli download microsoft/wavlm-base-plus --local-dir DIR)")
    return {"pretrained_model_name_or_path": str(path)}  # owner/name on the hub


def plain_hf_config(config: Any) -> Dict[str, Any]:
    """A ``transformers`` config as plain JSON types, without the keys naming files or versions."""
    d = json.loads(config.to_json_string(use_diff=False))
    return {k: v for k, v in d.items() if not k.startswith("_") and k not in _VOLATILE}


def _directory_hf_config(path: str, overrides: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """The model directory's config.json (layerdrop 0: every hidden state is needed, and wav2vec 2.0
    configs ship 0.1) under the config's own ``hf_config`` keys."""
    config = plain_hf_config(_transformers().AutoConfig.from_pretrained(**_source(str(path))))
    config["layerdrop"] = 0.0
    config.update(overrides or {})
    return config


def _build_hf_config(hf_config: Mapping[str, Any]):
    cfg = dict(hf_config)
    model_type = cfg.pop("model_type", None)
    if model_type not in FAMILIES:
        raise ValueError(f"ssl encoder: hf_config.model_type must be one of {', '.join(FAMILIES)}, got {model_type!r}")
    if float(cfg.get("layerdrop") or 0.0) > 0.0:
        raise ValueError("ssl encoder: hf_config.layerdrop must be 0: a dropped layer leaves no hidden state "
                         "for the weighted sum")
    cfg["layerdrop"] = 0.0
    return _transformers().AutoConfig.for_model(model_type, **cfg)


class _ValidFramesGroupNorm(nn.GroupNorm):
    """The first CNN layer's GroupNorm (one group per channel, statistics over time), over the
    ``frames`` valid frames of each utterance when they are set (else over all: nn.GroupNorm)."""

    frames: Optional[torch.Tensor] = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.frames is None:
            return super().forward(x)
        dtype = x.dtype
        x = x.float()  # statistics in float32, as autocast runs GroupNorm
        mean, std = masked_mean_std(x.transpose(1, 2), valid_mask(self.frames, x.size(2)), unbiased=False, eps=self.eps)
        y = (x - mean.unsqueeze(2)) / std.unsqueeze(2)
        return (y * self.weight.float()[None, :, None] + self.bias.float()[None, :, None]).to(dtype)


@ENCODERS.register("ssl")
class SslEncoder(FreezeSchedule, nn.Module):
    """``forward(waveform (B,S,1) or (B,S), lengths in samples) -> ((B,T',H), lengths')``.

    Config: ``path`` (model directory or hub id) and/or ``hf_config`` (architecture; with ``path``,
    its keys override the directory's config.json, e.g. ``{mask_time_prob: 0.0}``); ``layers``
    (hidden states in the weighted sum: 0 = the CNN's projected output, 1..L the Transformer
    layers; default all); ``layer_norm`` (normalise each hidden state before weighting, false);
    ``freeze`` (true), ``freeze_feature_encoder`` (true), ``unfreeze_after_steps`` (0);
    ``normalize_waveform`` (zero mean, unit variance per utterance, as the model's feature
    extractor ``do_normalize``; default: its preprocessor_config.json, else true for
    ``feat_extract_norm: layer`` models); ``backend`` (an encoder of the registry run on the
    weighted frames, e.g. ``{name: ecapa, channels: 512}``); ``lr_scale`` (the pretrained
    weights' learning rate as a fraction of ``optim.lr``; 1.0).
    """

    def __init__(
        self,
        input_dim: int = 1,
        path: Optional[str] = None,
        hf_config: Optional[Mapping[str, Any]] = None,
        layers: Optional[Sequence[int]] = None,
        layer_norm: bool = False,
        freeze: bool = True,
        freeze_feature_encoder: bool = True,
        unfreeze_after_steps: int = 0,
        normalize_waveform: Optional[bool] = None,
        backend: Optional[Union[str, Mapping[str, Any]]] = None,
        lr_scale: float = 1.0,
    ):
        super().__init__()
        if int(input_dim) != 1:
            raise ValueError(f"the ssl encoder takes the waveform (input_dim 1), got {input_dim}-dim features: "
                             "set data.features: waveform")
        if path is None and hf_config is None:
            raise ValueError("ssl encoder: give path (a model directory or hub id) or hf_config (an architecture)")
        tf = _transformers()
        config = _build_hf_config(hf_config if path is None else _directory_hf_config(path, hf_config))
        if config.model_type not in FAMILIES:
            raise ValueError(f"ssl encoder: {path}: model_type {config.model_type!r} is not one of {', '.join(FAMILIES)}")
        if path is not None:
            model = tf.AutoModel.from_pretrained(**_source(path), config=config)
        else:
            model = tf.AutoModel.from_config(config)
        self.model = model.float()
        self.config = config
        conv0 = self.model.feature_extractor.conv_layers[0]
        self._group_norm: Optional[_ValidFramesGroupNorm] = None
        if config.feat_extract_norm == "group":
            gn = conv0.layer_norm
            new = _ValidFramesGroupNorm(gn.num_groups, gn.num_channels, gn.eps, gn.affine)
            new.load_state_dict(gn.state_dict())
            conv0.layer_norm = self._group_norm = new
        self._conv0 = (int(config.conv_kernel[0]), int(config.conv_stride[0]))

        num_states = int(config.num_hidden_layers) + 1
        self.layers = list(range(num_states)) if layers is None else [int(i) for i in layers]
        bad = [i for i in self.layers if not 0 <= i < num_states]
        if bad or not self.layers or len(set(self.layers)) != len(self.layers):
            raise ValueError(f"ssl encoder: layers must be distinct hidden states in 0..{num_states - 1}, got {layers}")
        self.layer_weights = nn.Parameter(torch.zeros(len(self.layers)))
        self.layer_norm = bool(layer_norm)
        if normalize_waveform is None:
            normalize_waveform = config.feat_extract_norm == "layer"
        self.normalize_waveform = bool(normalize_waveform)

        self.init_freeze_schedule(freeze, unfreeze_after_steps, [self.model], "ssl encoder")
        if not self.freeze and freeze_feature_encoder:
            self.model.freeze_feature_encoder()

        # fine-tuning: the pretrained weights learn at lr_scale x optim.lr, what sits on top at optim.lr
        self.model.lr_scale = float(lr_scale)
        self.backend = None
        self.output_dim = int(config.hidden_size)
        self.subsampling_factor = int(math.prod(config.conv_stride))
        if backend is not None:
            self.backend = ENCODERS.build_from_config(backend, self.output_dim)
            self.output_dim = int(self.backend.output_dim)
            self.subsampling_factor *= int(getattr(self.backend, "subsampling_factor", 1))

    # -- options the trainer completes and a checkpoint drops -------------------------------------
    @staticmethod
    def complete_options(options: Mapping[str, Any]) -> Dict[str, Any]:
        """The options with the model directory's whole architecture in ``hf_config`` (its
        config.json under the config's own ``hf_config`` keys) and ``normalize_waveform`` explicit."""
        out = dict(options)
        path = out.get("path")
        if path is None:
            return out
        source = _source(str(path))
        out["hf_config"] = plain_hf_config(_build_hf_config(_directory_hf_config(path, out.get("hf_config"))))
        if out.get("normalize_waveform") is None:
            pre = Path(source["pretrained_model_name_or_path"]) / "preprocessor_config.json"
            if pre.is_file():
                out["normalize_waveform"] = bool(json.loads(pre.read_text()).get("do_normalize", False))
            else:
                out["normalize_waveform"] = out["hf_config"].get("feat_extract_norm") == "layer"
        return out

    @staticmethod
    def options_for_state_dict(options: Mapping[str, Any]) -> Dict[str, Any]:
        """The options that rebuild the architecture alone (the weights come from a state dict)."""
        out = dict(options)
        if out.get("path") is not None and out.get("hf_config") is None:
            raise ValueError(f"ssl encoder of {out['path']}: the config holds no hf_config, so the model "
                             "cannot be rebuilt without its directory (train it with accent.bin.train)")
        out["path"] = None
        return out

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        out = self.model._get_feat_extract_output_lengths(lengths).long().clamp_min(0)
        return self.backend.output_lengths(out) if self.backend is not None else out

    # -- forward ---------------------------------------------------------------------------------
    def _normalize(self, wav: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Zero mean and unit variance over each utterance's valid samples (HF's do_normalize)."""
        mean, std = masked_mean_std(wav.unsqueeze(-1), mask, unbiased=False, eps=1e-7)
        return (wav - mean) / std

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor):
        wav = feats.squeeze(-1) if feats.dim() == 3 else feats
        lengths = lengths.to(wav.device)
        mask = valid_mask(lengths, wav.size(1))
        tracing = torch.jit.is_tracing() or torch.compiler.is_exporting()
        padded = tracing or not bool(mask.all())  # a traced graph must take any padding
        if self.normalize_waveform:
            wav = self._normalize(wav, mask)
        wav = wav * mask.to(wav.dtype)
        frozen = self.frozen_now
        self.model.train(self.training and not frozen)
        if self._group_norm is not None and padded:
            k, s = self._conv0
            self._group_norm.frames = torch.div(lengths - k, s, rounding_mode="floor") + 1
        try:
            with torch.no_grad() if frozen else contextlib.nullcontext():
                out = self.model(wav, attention_mask=mask.long() if padded else None, output_hidden_states=True)
        finally:
            if self._group_norm is not None:
                self._group_norm.frames = None
        states = out.hidden_states
        if len(states) != self.config.num_hidden_layers + 1:
            raise RuntimeError(f"ssl encoder: {len(states)} hidden states from a model of "
                               f"{self.config.num_hidden_layers} layers")
        x = torch.stack([states[i] for i in self.layers])  # (L, B, T', H)
        if self.layer_norm:
            x = F.layer_norm(x, x.shape[-1:])
        frames = weighted_layer_sum(x, self.layer_weights)
        out_lengths = self.model._get_feat_extract_output_lengths(lengths).long()
        frames = zero_padding(frames, valid_mask(out_lengths, frames.size(1)), 1)
        if self.backend is not None:
            return self.backend(frames, out_lengths)
        return frames, out_lengths
