"""Encoders (acoustic models): registered in ``accent.models.registry.ENCODERS``.

Each takes ``(input_dim, **config)``, maps ``(feats (B,T,D), lengths (B,))`` to
``(frames (B,T',output_dim), lengths' (B,))`` and has ``output_dim``, ``subsampling_factor`` and
``output_lengths(lengths)``.  ``ssl`` (a Hugging Face self-supervised model) takes the waveform:
``(B, S, 1)`` samples, ``input_dim`` 1 (``data.features: waveform``), and so does ``ge2e`` (a pretrained GE2E speaker encoder).
"""

from .crnn import CRNNEncoder
from .ecapa import EcapaTdnnEncoder
from .ge2e import Ge2eEncoder  # librosa and the weights are needed only when one is built
from .jasper import JasperEncoder
from .resnet import ResNetEncoder
from .ssl import SslEncoder  # transformers is imported only when one is built
from .transformer import TransformerEncoder

__all__ = ["JasperEncoder", "CRNNEncoder", "TransformerEncoder", "EcapaTdnnEncoder", "ResNetEncoder", "SslEncoder", "Ge2eEncoder"]
