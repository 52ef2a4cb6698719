"""Inference for people who do not run the recipe: audio files in, accents out.

``AccentRecognizer`` (recognizer.py) over three backends (backends.py: PyTorch checkpoint,
TorchScript, ONNX Runtime), audio loading (audio.py) and the inference benchmark (bench.py).
"""

from .audio import Audio, expand_inputs, load_audio
from .backends import open_model
from .recognizer import AccentRecognizer, Prediction

__all__ = ["AccentRecognizer", "Prediction", "Audio", "load_audio", "expand_inputs", "open_model"]
