"""Runners of the inference graph: PyTorch (from a checkpoint), TorchScript, ONNX Runtime.

Each is called as ``backend(x, lengths) -> (posteriors (B,C), embedding (B,E))`` on numpy arrays
and has ``meta`` (:func:`accent.export.graph.metadata`) and ``input`` (``feats``: x is raw FBank
(B,T,D) float32 and lengths (B,) int64 frames; ``waveform``: x is (B,S) float32 samples in [-1, 1]
and lengths (B,) int64 samples; :mod:`accent.export.model_file`).  :func:`open_model` picks one
from a path: an experiment directory, a checkpoint, a TorchScript file or an ``.onnx`` file.

torch is imported only by the backends that run it: an ONNX model runs with onnxruntime and
numpy alone (accent-id's start-up).

From an experiment directory the checkpoint is the one
:func:`accent.models.checkpoint.experiment_checkpoint` picks (``avg_N.pt`` when the config
averages the last N epochs and it exists, else ``best.pt``): the model stage 6 scored.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional, Tuple, Union

import numpy as np

from accent.export.model_file import EXTRA_FILE, METADATA_KEY, input_kind, is_onnx, is_torchscript, parse_metadata
from accent.utils.device import resolve_device  # imports torch when called
from accent.utils.integrity import check_onnx, check_zip_archive

log = logging.getLogger(__name__)

Outputs = Tuple[np.ndarray, np.ndarray]


def experiment_checkpoint(exp_dir: Union[str, Path], checkpoint: Optional[str] = None) -> Path:
    """:func:`accent.models.checkpoint.experiment_checkpoint` (the one rule; imported on use, as
    ``accent.models`` imports torch)."""
    from accent.models.checkpoint import experiment_checkpoint as pick

    return pick(exp_dir, checkpoint)


class TorchBackend:
    """The eager ``InferenceGraph`` of a checkpoint (features in)."""

    kind = "pytorch"

    def __init__(self, checkpoint: Union[str, Path], device: str = "cpu"):
        from accent.export.graph import graph_from_checkpoint

        self.device = resolve_device(device)
        self.graph, self.meta = graph_from_checkpoint(checkpoint, self.device)
        self.input = input_kind(self.meta)

    def __call__(self, x: np.ndarray, lengths: np.ndarray) -> Outputs:
        import torch

        with torch.inference_mode():
            post, emb = self.graph(torch.from_numpy(x).to(self.device), torch.from_numpy(lengths).to(self.device))
        return post.float().cpu().numpy(), emb.float().cpu().numpy()


class TorchScriptBackend:
    """A file written by ``export_torchscript`` (either input)."""

    kind = "torchscript"

    def __init__(self, path: Union[str, Path], device: str = "cpu"):
        import torch

        extra = {EXTRA_FILE: ""}
        device = resolve_device(device)
        check_zip_archive(path, "TorchScript model")
        self.module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
        self.meta = parse_metadata(path, extra[EXTRA_FILE])
        self.input = input_kind(self.meta)
        traced_on = self.meta.get("torchscript_device", "cpu")
        if device.type != traced_on:
            # a trace keeps the device of the tensors it created (e.g. torch.arange) as constants
            log.warning("%s was traced on %s: running it there, not on %s (export with --device %s for that)",
                        path, traced_on, device.type, device.type)
            device = torch.device(traced_on)
        self.device = device
        self.module.to(device).eval()

    def __call__(self, x: np.ndarray, lengths: np.ndarray) -> Outputs:
        import torch

        with torch.inference_mode():
            post, emb = self.module(torch.from_numpy(x).to(self.device), torch.from_numpy(lengths).to(self.device))
        return post.cpu().numpy(), emb.cpu().numpy()


class OnnxBackend:
    """A file written by ``export_onnx`` (either input), run by ONNX Runtime (CUDA provider when
    asked and there).  Imports neither torch nor onnx."""

    kind = "onnx"

    def __init__(self, path: Union[str, Path], device: str = "cpu", threads: Optional[int] = None):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = int(threads)
            opts.inter_op_num_threads = 1
        providers = ["CPUExecutionProvider"]
        if device == "auto" or device.startswith("cuda"):
            if "CUDAExecutionProvider" in ort.get_available_providers():
                index = device.partition(":")[2] or "0"
                providers.insert(0, ("CUDAExecutionProvider", {"device_id": index}))
            elif device != "auto":
                log.warning("onnxruntime has no CUDA provider here (install onnxruntime-gpu): running on CPU")
        data = Path(path).read_bytes()  # read once: the bytes checked are the bytes loaded
        props = check_onnx(path, METADATA_KEY, data)
        self.session = ort.InferenceSession(data, opts, providers=providers)
        self.meta = parse_metadata(path, props.get(METADATA_KEY))
        self.input = input_kind(self.meta)
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.device = "cuda" if self.session.get_providers()[0].startswith("CUDA") else "cpu"

    def __call__(self, x: np.ndarray, lengths: np.ndarray) -> Outputs:
        post, emb = self.session.run(None, {self.input_names[0]: np.ascontiguousarray(x, dtype=np.float32),
                                            self.input_names[1]: np.ascontiguousarray(lengths, dtype=np.int64)})
        return post, emb


def open_model(path: Union[str, Path], device: str = "cpu", threads: Optional[int] = None,
               checkpoint: Optional[str] = None):
    """A backend for an experiment dir, a checkpoint, a TorchScript file or an ONNX file."""
    path = Path(path)
    if path.is_file() and is_onnx(path):
        return OnnxBackend(path, device, threads)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such model (give an experiment dir, a .pt checkpoint, "
                                "or an exported model.torchscript.pt / model.onnx / model_wav.onnx)")
    import torch

    if threads:
        torch.set_num_threads(int(threads))
    if path.is_dir():
        return TorchBackend(experiment_checkpoint(path, checkpoint), device)
    if is_torchscript(path):
        return TorchScriptBackend(path, device)
    return TorchBackend(path, device)
