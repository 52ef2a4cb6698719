"""Export of accent models for inference: TorchScript and ONNX of the inference graph
(raw FBank features in, posteriors and embeddings out) with their metadata inside the file."""

from .exporter import FILENAMES, FORMATS, export_onnx, export_torchscript, read_metadata
from .graph import InferenceGraph, graph_from_checkpoint

__all__ = ["InferenceGraph", "graph_from_checkpoint", "export_onnx", "export_torchscript", "read_metadata",
           "FORMATS", "FILENAMES"]
