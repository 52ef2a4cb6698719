"""Export of accent models for inference: TorchScript and ONNX of the inference graph (raw FBank
features in, or the waveform: :mod:`.model_file`), posteriors and embeddings out, with their
metadata inside the file.

Names are imported on first use: :mod:`.model_file` (file names, metadata) needs no torch, so that
accent-id with an ONNX model does not load it.
"""

_LAZY = {"InferenceGraph": "graph", "graph_from_checkpoint": "graph", "export_onnx": "exporter",
         "export_torchscript": "exporter", "export_model": "exporter", "WaveformGraph": "waveform_graph",
         "read_metadata": "model_file", "FORMATS": "model_file", "FILENAMES": "model_file"}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
