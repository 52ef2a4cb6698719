"""Runners of the inference graph: PyTorch (from a checkpoint), TorchScript, ONNX Runtime.

Each is called as ``backend(feats (B,T,D) float32, lengths (B,) int64) -> (posteriors (B,C),
embedding (B,E))`` on numpy arrays and has ``meta`` (:func:`accent.export.graph.metadata`).
:func:`open_model` picks one from a path: an experiment directory, a checkpoint, a TorchScript
file or an ``.onnx`` file.

From an experiment directory the checkpoint is the one
:func:`accent.models.checkpoint.experiment_checkpoint` picks (``avg_N.pt`` when the config
averages the last N epochs and it exists, else ``best.pt``): the model stage 6 scored.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional, Tuple, Union

import numpy as np
import torch

from accent.export.exporter import EXTRA_FILE, is_onnx, is_torchscript, parse_metadata
from accent.export.graph import METADATA_KEY, graph_from_checkpoint
from accent.models.checkpoint import experiment_checkpoint  # noqa: F401 (the one rule, re-exported)
from accent.utils.device import resolve_device
from accent.utils.integrity import check_onnx, check_zip_archive

log = logging.getLogger(__name__)

Outputs = Tuple[np.ndarray, np.ndarray]


class TorchBackend:
    """The eager ``InferenceGraph`` of a checkpoint."""

    kind = "pytorch"

    def __init__(self, checkpoint: Union[str, Path], device: str = "cpu"):
        self.device = resolve_device(device)
        self.graph, self.meta = graph_from_checkpoint(checkpoint, self.device)

    @torch.inference_mode()
    def __call__(self, feats: np.ndarray, lengths: np.ndarray) -> Outputs:
        post, emb = self.graph(torch.from_numpy(feats).to(self.device), torch.from_numpy(lengths).to(self.device))
        return post.float().cpu().numpy(), emb.float().cpu().numpy()


class TorchScriptBackend:
    """A file written by ``export_torchscript``."""

    kind = "torchscript"

    def __init__(self, path: Union[str, Path], device: str = "cpu"):
        extra = {EXTRA_FILE: ""}
        device = resolve_device(device)
        check_zip_archive(path, "TorchScript model")
        self.module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
        self.meta = parse_metadata(path, extra[EXTRA_FILE])
        traced_on = self.meta.get("torchscript_device", "cpu")
        if device.type != traced_on:
            # a trace keeps the device of the tensors it created (e.g. torch.arange) as constants
            log.warning("%s was traced on %s: running it there, not on %s (export with --device %s for that)",
                        path, traced_on, device.type, device.type)
            device = torch.device(traced_on)
        self.device = device
        self.module.to(device).eval()

    @torch.inference_mode()
    def __call__(self, feats: np.ndarray, lengths: np.ndarray) -> Outputs:
        post, emb = self.module(torch.from_numpy(feats).to(self.device), torch.from_numpy(lengths).to(self.device))
        return post.cpu().numpy(), emb.cpu().numpy()


class OnnxBackend:
    """A file written by ``export_onnx``, run by ONNX Runtime (CUDA provider when asked and there)."""

    kind = "onnx"

    def __init__(self, path: Union[str, Path], device: str = "cpu", threads: Optional[int] = None):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = int(threads)
            opts.inter_op_num_threads = 1
        providers = ["CPUExecutionProvider"]
        if resolve_device(device).type == "cuda":
            if "CUDAExecutionProvider" in ort.get_available_providers():
                providers.insert(0, "CUDAExecutionProvider")
            else:
                log.warning("onnxruntime has no CUDA provider here (install onnxruntime-gpu): running on CPU")
        check_onnx(path, METADATA_KEY)
        self.session = ort.InferenceSession(str(path), opts, providers=providers)
        # the metadata_props ONNX Runtime has already read: no second load of the file
        self.meta = parse_metadata(path, self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY))
        self.device = torch.device("cuda" if self.session.get_providers()[0].startswith("CUDA") else "cpu")

    def __call__(self, feats: np.ndarray, lengths: np.ndarray) -> Outputs:
        post, emb = self.session.run(None, {"feats": np.ascontiguousarray(feats, dtype=np.float32),
                                            "lengths": np.ascontiguousarray(lengths, dtype=np.int64)})
        return post, emb


def open_model(path: Union[str, Path], device: str = "cpu", threads: Optional[int] = None,
               checkpoint: Optional[str] = None):
    """A backend for an experiment dir, a checkpoint, a TorchScript file or an ONNX file."""
    path = Path(path)
    if threads:
        torch.set_num_threads(int(threads))
    if path.is_dir():
        return TorchBackend(experiment_checkpoint(path, checkpoint), device)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model (give an experiment dir, a .pt checkpoint, "
                                "or an exported model.torchscript.pt / model.onnx)")
    if is_onnx(path):
        return OnnxBackend(path, device, threads)
    if is_torchscript(path):
        return TorchScriptBackend(path, device)
    return TorchBackend(path, device)

