"""Model library: encoders, poolings, fusions, heads (margin losses), CTC and the composed models.

Everything configurable is registered by name (``ENCODERS``, ``POOLINGS``, ``FUSIONS``,
``HEADS``, ``NORMALIZERS``) and built from plain dicts, e.g. ``AccentModel.from_config(cfg["model"], 40, 8, 40)``.
"""

from .registry import ENCODERS, FUSIONS, HEADS, NORMALIZERS, POOLINGS, Registry

# importing the sub-packages registers their classes
from . import encoders, fusion, heads, normalize, pooling  # noqa: F401  (registration side effects)
from .accent_model import AccentModel, AsrModel, encoder_state_from_asr, load_encoder_from_asr
from .ctc import CTCHead, ctc_loss, edit_distance, error_counts, greedy_decode, phone_error_rate
from .encoders import CRNNEncoder, EcapaTdnnEncoder, JasperEncoder, ResNetEncoder, TransformerEncoder
from .fusion import AddFusion, ConcatChannelAttentionFusion, ConcatFusion, NoFusion
from .heads import ArcFaceHead, CircleHead, CosFaceHead, SoftmaxHead, SphereFaceHead, linear_margin
from .pooling import (
    AttentiveStatsPooling, AvgPooling, BiGRUPooling, GhostVLADPooling, NetVLADPooling, StatsPooling,
    TransformerAggregator,
)
from .masking import MaskedBatchNorm1d, MaskedBatchNorm2d, pad_mask, valid_mask


__all__ = [
    "Registry", "ENCODERS", "POOLINGS", "FUSIONS", "HEADS", "NORMALIZERS",
    "AccentModel", "AsrModel", "load_encoder_from_asr", "encoder_state_from_asr",
    "CTCHead", "ctc_loss", "greedy_decode", "edit_distance", "error_counts", "phone_error_rate",
    "JasperEncoder", "CRNNEncoder", "TransformerEncoder", "EcapaTdnnEncoder", "ResNetEncoder",
    "StatsPooling", "AvgPooling", "AttentiveStatsPooling", "BiGRUPooling", "NetVLADPooling",
    "GhostVLADPooling", "TransformerAggregator",
    "NoFusion", "AddFusion", "ConcatFusion", "ConcatChannelAttentionFusion",
    "SoftmaxHead", "SphereFaceHead", "CosFaceHead", "ArcFaceHead", "CircleHead", "linear_margin",
    "MaskedBatchNorm1d", "MaskedBatchNorm2d", "valid_mask", "pad_mask",
]
