"""Encoders (acoustic models): registered in ``accent.models.registry.ENCODERS``.

Each takes ``(input_dim, **config)``, maps ``(feats (B,T,D), lengths (B,))`` to
``(frames (B,T',output_dim), lengths' (B,))`` and has ``output_dim``, ``subsampling_factor`` and
``output_lengths(lengths)``.
"""

from .crnn import CRNNEncoder
from .ecapa import EcapaTdnnEncoder
from .jasper import JasperEncoder
from .resnet import ResNetEncoder
from .transformer import TransformerEncoder

__all__ = ["JasperEncoder", "CRNNEncoder", "TransformerEncoder", "EcapaTdnnEncoder", "ResNetEncoder"]
