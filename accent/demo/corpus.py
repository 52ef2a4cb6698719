"""Public entry points of the offline demo corpora.

Real AESRC2020 and LibriSpeech cannot be downloaded in every environment, so
the toolkit synthesises small stand-ins, deterministically from a seed, in
exactly the on-disk layout of the real corpora; the recipes then run the same
data preparation on demo and real data.

    from accent.demo.corpus import DemoConfig, make_demo_aesrc, make_demo_librispeech
    aesrc_root = make_demo_aesrc("downloads", DemoConfig(seed=0))
    libri_root = make_demo_librispeech("downloads", DemoConfig(seed=0))
"""

from accent.demo.aesrc import make_demo_aesrc
from accent.demo.config import DemoConfig
from accent.demo.librispeech import make_demo_librispeech

__all__ = ["DemoConfig", "make_demo_aesrc", "make_demo_librispeech"]
