"""accent: accent recognition of spoken English (AESRC2020 recipes on PyTorch)."""

__version__ = "0.1.0"
