"""accent: accent recognition of spoken English (AESRC2020 recipes on PyTorch)."""

__version__ = "0.1.0"

# Imported on first use, so that ``import accent`` stays cheap (no torch, no onnxruntime).
_LAZY = {"AccentRecognizer": "accent.inference.recognizer", "Prediction": "accent.inference.recognizer"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'accent' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
