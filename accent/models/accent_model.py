"""The accent recognition model and the phone-CTC ASR model, composed from the registries.

``AccentModel``::

    feats ─> normalize ─> encoder (trainable AM) ─> frames ─┬─> fusion ─> pooling ─> embedding ─> head ─> loss, logits
                      └> reference encoder (frozen AM) ────┘
                                      frames ──> CTC head ─> phone CTC loss (multi-task, weight λ)

    loss = L_accent + λ·L_ctc   (λ = ctc_weight, default 0.1; 0 disables the CTC branch)

The model takes raw FBank features: normalisation (``data.cmvn``: global CMVN with its statistics
as buffers, per-utterance MVN, or none; :mod:`.normalize`) is its first module, so the statistics
travel in the state dict and training, scoring and export run one function.  ``forward(batch) ->
(loss, stats)`` trains; ``predict(feats, lengths) -> (logits, embedding)`` infers.

The reference encoder is frozen: ``requires_grad_(False)``, always in eval mode (``train()`` does not
switch it, so its batch-norm statistics never move), run under ``no_grad``, and left out of
``trainable_parameters()``.  ``AsrModel`` (encoder + CTC head) is the phone-CTC pretraining model
whose encoder weights initialise the accent model's encoders (``load_encoder_from_asr``).

Config (the ``model:`` section of a recipe YAML, a plain dict)::

    encoder: {name: jasper, ...}            # ENCODERS; kwargs go to the class
    reference_encoder: {name: jasper, ...}  # optional (hybrid system); "same" = the encoder's config
    fusion: concat_ca                       # none | add | concat | concat_ca, or {name: concat_ca, ratio: 16}
    pooling: {name: transformer_aggregator, ...}   # POOLINGS (a bare name works too)
    embed_dim: 256
    embed_norm: bn                          # bn | bn_relu | relu | none, after the embedding Linear
    head: {name: circle, scale: 30, margin: 0.2}   # HEADS
    ctc_weight: 0.1
    ctc_dropout: 0.0
    blank: 0
    speaker_adversary: {weight: 0.1, hidden: 256, scale: 1.0}   # optional, training only (adversary.py)
"""

from __future__ import annotations

import copy
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from .adversary import SpeakerAdversary
from .ctc import CTCHead, ctc_loss, greedy_decode
from .fusion import NoFusion
from .normalize import NoNormalization, normalized_input
from .registry import ENCODERS, FUSIONS, HEADS, NORMALIZERS, POOLINGS

MODEL_KEYS = {
    "encoder", "reference_encoder", "fusion", "pooling", "embed_dim", "embed_norm",
    "head", "ctc_weight", "ctc_dropout", "blank", "speaker_adversary",
}


def _model_section(cfg: Mapping[str, Any]) -> Mapping[str, Any]:
    """Accept either the whole config (with a ``model:`` key) or the model section itself."""
    if "model" in cfg and isinstance(cfg["model"], Mapping) and "encoder" not in cfg:
        return cfg["model"]
    return cfg


def _embedding_norm(kind: Optional[str], dim: int) -> nn.Module:
    kind = "none" if kind is None else str(kind).lower()
    if kind == "bn":
        return nn.BatchNorm1d(dim, affine=False)  # WeSpeaker's seg_bn
    if kind == "bn_relu":
        return nn.Sequential(nn.BatchNorm1d(dim), nn.ReLU())
    if kind == "relu":
        return nn.ReLU()
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"embed_norm must be one of bn, bn_relu, relu, none; got {kind!r}")


class AccentModel(nn.Module):
    """Encoder (+ frozen reference encoder + fusion) + pooling + embedding + head (+ CTC head)."""

    def __init__(
        self,
        encoder: nn.Module,
        pooling: nn.Module,
        head: nn.Module,
        embed_dim: int = 256,
        reference_encoder: Optional[nn.Module] = None,
        fusion: Optional[nn.Module] = None,
        embed_norm: Optional[str] = "bn",
        ctc_head: Optional[CTCHead] = None,
        ctc_weight: float = 0.1,
        adversary: Optional[SpeakerAdversary] = None,
        normalize: Optional[nn.Module] = None,
        specaug_value: str = "zero",
    ):
        super().__init__()
        self.normalize = normalize if normalize is not None else NoNormalization(0)
        self.specaug_value = specaug_value
        self.adversary = adversary
        self.encoder = encoder
        self.reference_encoder = reference_encoder
        self.fusion = fusion if fusion is not None else NoFusion(encoder.output_dim, encoder.output_dim)
        if reference_encoder is None and not isinstance(self.fusion, NoFusion):
            raise ValueError(f"fusion {type(self.fusion).__name__} needs a reference encoder")
        self.pooling = pooling
        self.embedding = nn.Sequential(nn.Linear(pooling.output_dim, embed_dim), _embedding_norm(embed_norm, embed_dim))
        self.embed_dim = embed_dim
        self.head = head
        self.ctc_head = ctc_head
        self.ctc_weight = float(ctc_weight) if ctc_head is not None else 0.0
        if reference_encoder is not None:
            reference_encoder.requires_grad_(False)
            reference_encoder.eval()

    # -- frozen reference -------------------------------------------------------------------------
    def train(self, mode: bool = True) -> "AccentModel":
        super().train(mode)
        if self.reference_encoder is not None:
            self.reference_encoder.eval()  # always: its BN statistics and dropout stay fixed
        return self

    def _reference_ids(self) -> set:
        if self.reference_encoder is None:
            return set()
        return {id(p) for p in self.reference_encoder.parameters()}

    def trainable_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters for the optimizer: everything but the reference encoder (and frozen tensors)."""
        ref = self._reference_ids()
        for p in self.parameters():
            if p.requires_grad and id(p) not in ref:
                yield p

    @property
    def uses_reference(self) -> bool:
        return self.reference_encoder is not None and not isinstance(self.fusion, NoFusion)

    @property
    def channel_attention(self) -> Optional[torch.Tensor]:
        """(B, ref_dim + dim) channel-attention weights of the last forward (``concat_ca`` only)."""
        return getattr(self.fusion, "last_attention", None)

    # -- forward ------------------------------------------------------------------------------------
    def encode(self, feats: torch.Tensor, lengths: torch.Tensor, specaug_mask: Optional[torch.Tensor] = None):
        """Frames after fusion, their lengths, and the trainable encoder's own frames, from raw
        features: normalised here (and SpecAugment's masks filled, in training)."""
        x = normalized_input(self.normalize, feats, lengths, specaug_mask, self.specaug_value)
        frames, flen = self.encoder(x, lengths)
        fused = frames
        if self.uses_reference:
            with torch.no_grad():
                ref, rlen = self.reference_encoder(x, lengths)
            # a data-dependent check, left out of traced and exported graphs
            exporting = torch.jit.is_tracing() or torch.compiler.is_exporting()
            if not exporting and not torch.equal(rlen.to(flen.device), flen):
                raise ValueError("the reference and trainable encoders give different output lengths")
            fused = self.fusion(ref, frames, flen)
        return fused, flen, frames

    def embed(self, feats: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, embed_dim) accent embeddings of raw features (B, T, D) with ``lengths`` valid frames."""
        fused, flen, _ = self.encode(feats, lengths)
        return self.embedding(self.pooling(fused, flen))

    def predict(self, feats: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Margin-free logits (B, C) (argmax = the predicted accent) and embeddings (B, E): the
        inference function that scoring, the analyses and export share."""
        embedding = self.embed(feats, lengths)
        return self.head.logits(embedding), embedding

    def forward(self, batch: Mapping[str, Any]) -> Tuple[Optional[torch.Tensor], Dict[str, Any]]:
        """``(loss, stats)`` of a batch (the data pipeline's dict: ``feats``, ``lengths``, and as
        available ``specaug_mask``, ``labels``, ``targets``/``target_lengths`` (CTC), ``speakers``).

        ``loss`` = L_accent + λ·L_ctc (+ the speaker adversary's, in training); None without targets.
        ``stats``: ``accent_loss``, ``ctc_loss``, ``adversary_loss`` (None where not computed),
        ``logits`` (margin-free), ``embedding``, ``ctc_log_probs``/``ctc_lengths`` (with a CTC head).
        """
        labels = batch.get("labels")
        fused, flen, frames = self.encode(batch["feats"], batch["lengths"],
                                          batch.get("specaug_mask") if self.training else None)
        embedding = self.embedding(self.pooling(fused, flen))
        accent_loss = None
        if labels is not None:
            accent_loss, logits = self.head(embedding, labels)
        else:
            logits = self.head.logits(embedding)
        ctc_log_probs = ctc_lengths = ctc_value = None
        if self.ctc_head is not None:
            ctc_log_probs, ctc_lengths = self.ctc_head(frames, flen)
            if batch.get("targets") is not None:
                ctc_value = ctc_loss(ctc_log_probs, ctc_lengths, batch["targets"], batch["target_lengths"],
                                     blank=self.ctc_head.blank)
        adversary_loss = None
        speakers = batch.get("speakers")
        if self.adversary is not None and speakers is not None and self.training:
            adversary_loss = self.adversary(embedding, speakers)
        loss = None
        for value, weight in ((accent_loss, 1.0), (ctc_value, self.ctc_weight),
                              (adversary_loss, self.adversary.weight if self.adversary is not None else 0.0)):
            if value is not None:
                loss = weight * value if loss is None else loss + weight * value
        return loss, {
            "accent_loss": accent_loss,
            "ctc_loss": ctc_value,
            "adversary_loss": adversary_loss,
            "logits": logits,
            "embedding": embedding,
            "ctc_log_probs": ctc_log_probs,
            "ctc_lengths": ctc_lengths,
        }

    # -- building -----------------------------------------------------------------------------------
    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], input_dim: int, num_classes: int, num_units: Optional[int] = None,
                    normalize: str = "none", specaug_value: str = "zero") -> "AccentModel":
        """Build from the ``model:`` dict (or a whole config holding one); see the module docstring.
        ``normalize``: the normaliser's registry name (``data.cmvn``); ``specaug_value``:
        ``data.specaug.mask_value``."""
        cfg = _model_section(cfg)
        unknown = set(cfg) - MODEL_KEYS
        if unknown:
            raise KeyError(f"unknown model config keys {sorted(unknown)}; known: {sorted(MODEL_KEYS)}")
        if "encoder" not in cfg:
            raise KeyError("model config needs an 'encoder'")
        encoder = ENCODERS.build_from_config(cfg["encoder"], input_dim)
        ref_cfg = cfg.get("reference_encoder")
        reference = None
        if ref_cfg is not None:
            if ref_cfg == "same":
                ref_cfg = copy.deepcopy(cfg["encoder"])
            reference = ENCODERS.build_from_config(ref_cfg, input_dim)
        fusion_cfg = cfg.get("fusion") or "none"
        if reference is None and (fusion_cfg if isinstance(fusion_cfg, str) else fusion_cfg.get("name")) != "none":
            raise ValueError(f"fusion {fusion_cfg!r} needs a reference_encoder")
        ref_dim = reference.output_dim if reference is not None else encoder.output_dim
        fusion = FUSIONS.build_from_config(fusion_cfg, ref_dim, encoder.output_dim)
        pooling = POOLINGS.build_from_config(cfg.get("pooling", "stats"), fusion.output_dim)
        embed_dim = int(cfg.get("embed_dim", 256))
        head = HEADS.build_from_config(cfg.get("head", "softmax"), embed_dim, num_classes)
        ctc_weight = float(cfg.get("ctc_weight", 0.1))
        ctc_head = None
        if ctc_weight > 0:
            if not num_units:
                raise ValueError("ctc_weight > 0 needs num_units (phone inventory size incl. blank)")
            ctc_head = CTCHead(encoder.output_dim, num_units, blank=int(cfg.get("blank", 0)),
                               dropout=float(cfg.get("ctc_dropout", 0.0)))
        adversary = None
        adv_cfg = cfg.get("speaker_adversary")
        if adv_cfg:
            adv_cfg = dict(adv_cfg)
            if "num_speakers" not in adv_cfg:
                raise KeyError("model.speaker_adversary needs num_speakers (the trainer fills it in from utt2spk)")
            adversary = SpeakerAdversary(embed_dim, int(adv_cfg.pop("num_speakers")), **adv_cfg)
        return cls(encoder, pooling, head, embed_dim=embed_dim, reference_encoder=reference, fusion=fusion,
                   embed_norm=cfg.get("embed_norm", "bn"), ctc_head=ctc_head, ctc_weight=ctc_weight,
                   adversary=adversary, normalize=NORMALIZERS.build(normalize, input_dim),
                   specaug_value=specaug_value)


class AsrModel(nn.Module):
    """Normaliser + encoder + CTC head: phone-CTC pretraining of an acoustic model (stage 4)."""

    def __init__(self, encoder: nn.Module, num_units: int, blank: int = 0, dropout: float = 0.0,
                 normalize: Optional[nn.Module] = None, specaug_value: str = "zero"):
        super().__init__()
        self.normalize = normalize if normalize is not None else NoNormalization(0)
        self.specaug_value = specaug_value
        self.encoder = encoder
        self.ctc_head = CTCHead(encoder.output_dim, num_units, blank=blank, dropout=dropout)

    def ctc_outputs(self, feats: torch.Tensor, lengths: torch.Tensor, specaug_mask: Optional[torch.Tensor] = None
                    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """CTC log-probabilities (B, T', U) and their lengths, from raw features."""
        x = normalized_input(self.normalize, feats, lengths, specaug_mask, self.specaug_value)
        frames, flen = self.encoder(x, lengths)
        return self.ctc_head(frames, flen)

    def forward(self, batch: Mapping[str, Any]) -> Tuple[Optional[torch.Tensor], Dict[str, Any]]:
        """``(loss, stats)`` as :meth:`AccentModel.forward`: loss = the CTC loss (None without
        ``targets``); stats ``ctc_loss``, ``ctc_log_probs``, ``ctc_lengths``."""
        log_probs, olen = self.ctc_outputs(batch["feats"], batch["lengths"],
                                           batch.get("specaug_mask") if self.training else None)
        loss = None
        if batch.get("targets") is not None:
            loss = ctc_loss(log_probs, olen, batch["targets"], batch["target_lengths"], blank=self.ctc_head.blank)
        return loss, {"ctc_loss": loss, "ctc_log_probs": log_probs, "ctc_lengths": olen}

    def trainable_parameters(self) -> Iterator[nn.Parameter]:
        return (p for p in self.parameters() if p.requires_grad)

    @torch.no_grad()
    def decode(self, feats: torch.Tensor, lengths: torch.Tensor) -> List[List[int]]:
        """Greedy CTC decoding -> list of unit-id sequences."""
        log_probs, olen = self.ctc_outputs(feats, lengths)
        return greedy_decode(log_probs, olen, blank=self.ctc_head.blank)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], input_dim: int, num_units: int, normalize: str = "none",
                    specaug_value: str = "zero") -> "AsrModel":
        """Build from a dict with ``encoder`` (and optional ``blank``, ``ctc_dropout``); a whole
        config with a ``model:`` section works too (only its encoder is used)."""
        cfg = _model_section(cfg)
        if "encoder" not in cfg:
            raise KeyError("ASR model config needs an 'encoder'")
        encoder = ENCODERS.build_from_config(cfg["encoder"], input_dim)
        return cls(encoder, num_units, blank=int(cfg.get("blank", 0)), dropout=float(cfg.get("ctc_dropout", 0.0)),
                   normalize=NORMALIZERS.build(normalize, input_dim), specaug_value=specaug_value)


def _unwrap_state_dict(state: Mapping[str, Any]) -> Mapping[str, torch.Tensor]:
    for key in ("model", "state_dict", "model_state_dict"):
        if key in state and isinstance(state[key], Mapping):
            state = state[key]
            break
    if all(k.startswith("module.") for k in state):  # DistributedDataParallel
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def encoder_state_from_asr(state: Mapping[str, Any], prefix: str = "encoder.") -> Dict[str, torch.Tensor]:
    """The encoder's entries of an ``AsrModel`` state dict (or a checkpoint dict holding one under
    ``model``/``state_dict``; DDP's ``module.`` prefix is stripped), with ``prefix`` removed."""
    state = _unwrap_state_dict(state)
    out = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    if not out:
        raise KeyError(f"no '{prefix}*' entries in the state dict (keys like {list(state)[:3]})")
    return out


def load_encoder_from_asr(
    model: AccentModel,
    state: Union[Mapping[str, Any], str],
    targets: Union[str, Sequence[str]] = ("encoder",),
    strict: bool = True,
):
    """ASR-init: copy an ``AsrModel``'s encoder weights into ``model.encoder`` and/or
    ``model.reference_encoder`` (``targets``: "encoder", "reference_encoder", "both", or a list).

    ``state`` is a state dict, a checkpoint dict, or a path to a ``torch.save``d one.  Returns
    ``{target: (missing_keys, unexpected_keys)}``.  The reference stays frozen (and in eval mode).
    """
    if isinstance(state, (str, bytes)) or hasattr(state, "__fspath__"):
        state = torch.load(state, map_location="cpu", weights_only=True)
    if isinstance(targets, str):
        targets = ["encoder", "reference_encoder"] if targets == "both" else [targets]
    enc_state = encoder_state_from_asr(state)
    results = {}
    for target in targets:
        module = getattr(model, target, None)
        if target not in ("encoder", "reference_encoder") or module is None:
            raise ValueError(f"cannot load into {target!r} (model has: encoder"
                             f"{', reference_encoder' if model.reference_encoder is not None else ''})")
        res = module.load_state_dict(enc_state, strict=strict)
        results[target] = (list(res.missing_keys), list(res.unexpected_keys))
    if model.reference_encoder is not None:
        model.reference_encoder.requires_grad_(False)
        model.reference_encoder.eval()
    return results
