"""TorchScript and ONNX export of the inference graph, with its metadata inside the file.

The features-in files take ``feats`` (B, T, D) raw FBank float32 (int16 sample scale) and
``lengths`` (B,) int64, the waveform-in files (``*_wav`` formats, :mod:`.waveform_graph`)
``waveform`` (B, S) float32 in [-1, 1] and ``num_samples`` (B,) int64, with dynamic B and T / S
(:mod:`.model_file`); both return ``posteriors`` (B, C) and ``embedding`` (B, E).  The metadata
(labels, FBank options, the input and its scale, shortest input, ...;
:func:`accent.export.graph.metadata` and :func:`.model_file.input_spec`) is JSON stored as the ONNX
``metadata_props`` entry ``accent`` and as the TorchScript extra file ``accent.json``, so one file
is all a user needs.  :func:`export_model` writes a file under a temporary name, runs it with its
runtime against the PyTorch graph, and only then renames it into place: a killed or failed export
leaves no model file, so the recipe never takes an unchecked one for finished.  The ONNX file
carries a SHA-256 of its graph and metadata (:mod:`accent.utils.integrity`), checked at load;
TorchScript archives are checked by their zip CRC-32s.

ONNX uses ``torch.onnx.export(dynamo=True)`` (torch.export + onnxscript), the exporter PyTorch
maintains; the TorchScript-based one (``dynamo=False``) is deprecated and bakes the batch size
into attention reshapes.  GRUs export as ONNX GRU ops (``onnx_ops``).  TorchScript is traced
(``torch.jit.trace``; deprecated since torch 2.10 but still what C++/mobile users load): the
models' Python control flow only depends on shapes that ``min_frames`` keeps on the traced branch
(and the FBank's on lengths of at least one frame).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn

from accent.features.fbank import FbankConfig
from accent.utils.device import module_device
from accent.utils.integrity import ONNX_DIGEST_KEY, onnx_digest

from .graph import InferenceGraph
from .model_file import (EXTRA_FILE, FEATS, INPUT_NAMES, METADATA_KEY, OUTPUT_NAMES, SAMPLES, WAVEFORM,
                         format_input, frames_are_samples, input_kind, input_spec)
from .onnx_ops import TRANSLATIONS
from .waveform_graph import example_waveforms, waveform_graph

log = logging.getLogger(__name__)


def example_inputs(meta: Mapping[str, Any], device: Union[str, torch.device] = "cpu",
                   batch: int = 2, length: Optional[int] = None, seed: int = 0) -> Tuple[torch.Tensor, torch.Tensor]:
    """Random inputs of unequal lengths (so padding is exercised): FBank-like features, or voiced
    bursts for a graph on samples ((B, S) waveform-in, (B, S, 1) for a model trained on samples);
    ``length`` in frames or samples."""
    kind = input_kind(meta)
    if kind in (WAVEFORM, SAMPLES):
        if not isinstance(meta.get("input"), Mapping):  # a graph's metadata: its features-in file's entry
            frontend = FbankConfig.from_dict(meta["frontend"])
            meta = {**meta, "input": input_spec(FEATS, frontend, int(meta["min_frames"]), True)}
        waveform, lengths = example_waveforms(meta, batch, length or 0, seed)
        waveform = waveform if kind == WAVEFORM else waveform.unsqueeze(-1)
        return waveform.to(device), lengths.to(device)
    g = torch.Generator().manual_seed(seed)
    t = length or max(4 * int(meta["min_frames"]), 200)
    feats = 10.0 + 3.0 * torch.randn(batch, t, int(meta["input_dim"]), generator=g)
    lengths = torch.tensor([max(int(meta["min_frames"]), t - 37 * i) for i in range(batch)])
    return feats.to(device), lengths.to(device)


def graph_for_format(graph: InferenceGraph, meta: Mapping[str, Any], fmt: str) -> Tuple[nn.Module, Dict[str, Any]]:
    """The module that ``fmt`` exports and the metadata of its file (with the ``input`` entry)."""
    if format_input(fmt) == WAVEFORM:
        return waveform_graph(graph, meta)
    frontend = FbankConfig.from_dict(meta["frontend"])
    return graph, {**meta, "input": input_spec(FEATS, frontend, int(meta["min_frames"]), frames_are_samples(meta))}


def _fsync(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def write_torchscript(graph: nn.Module, meta: Mapping[str, Any], path: Union[str, Path]) -> None:
    """Trace the graph on its device and save it to ``path`` with the metadata (no check)."""
    device = module_device(graph)
    meta = {**meta, "torchscript_device": device.type}  # traced device constants (torch.arange's device)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # shape-only branches, see module doc
        warnings.simplefilter("ignore", DeprecationWarning)  # torch 2.10+ deprecates TorchScript; still asked for
        traced = torch.jit.trace(graph, example_inputs(meta, device), check_trace=False)
        torch.jit.save(traced, str(path), _extra_files={EXTRA_FILE: json.dumps(meta)})


def write_onnx(graph: nn.Module, meta: Mapping[str, Any], path: Union[str, Path]) -> None:
    """Export the graph (CPU copy) to one self-contained ONNX file at ``path``, with the metadata
    and the checksum of both (no check); the inputs' doc strings say what they take."""
    import onnx

    graph = graph.to("cpu")
    spec = meta["input"]
    batch = torch.export.Dim("batch", min=1, max=1024)
    if spec["kind"] == WAVEFORM:  # a day of audio at most
        time = torch.export.Dim("samples", min=int(spec["min_samples"]), max=24 * 3600 * int(spec["sample_rate"]))
    else:
        time = torch.export.Dim("time", min=int(meta["min_frames"]), max=1_000_000)
    for name in ("onnx_ir", "onnxscript", "torch.onnx", "torch.export"):  # INFO chatter of every pass
        logging.getLogger(name).setLevel(logging.WARNING)
    chatter = io.StringIO()  # the exporter prints its steps; shown only if it fails
    with torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stdout(chatter):
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            graph, example_inputs(meta), dynamo=True, input_names=spec["names"], output_names=OUTPUT_NAMES,
            dynamic_shapes=({0: batch, 1: time}, {0: batch}), external_data=False, verbose=False,
            custom_translation_table=TRANSLATIONS,
        )
    _rename_shadowing_values(program.model.graph)
    proto = program.model_proto
    for value in proto.graph.input:  # shown by Netron and onnx.helper.printable_graph
        value.doc_string = spec["description"]
    text = json.dumps(dict(meta))
    for key, value in ((METADATA_KEY, text), (ONNX_DIGEST_KEY, onnx_digest(proto, text))):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save_model(proto, str(path))


def _rename_shadowing_values(graph) -> None:
    """Rename inner values that the exporter named like a graph input or output (an
    ``nn.Embedding`` lookup's value is called ``embedding``: two definitions, an invalid model)."""
    ends = {id(v) for v in (*graph.inputs, *graph.outputs)}
    names = {name for names in INPUT_NAMES.values() for name in names} | set(OUTPUT_NAMES)
    for node in graph.all_nodes():
        for v in node.outputs:
            if v.name in names and id(v) not in ends:
                v.name = f"{v.name}_{node.name}"


WRITERS = {"torchscript": write_torchscript, "onnx": write_onnx}


class ExportMismatch(ValueError):
    """An exported model computes another function than the PyTorch graph."""


def export_model(graph: InferenceGraph, meta: Mapping[str, Any], fmt: str, path: Union[str, Path],
                 tolerance: float = 1e-4) -> float:
    """Write ``fmt`` (features in, or ``*_wav``: waveform in) to a temporary name, check it
    against the PyTorch graph with its own runtime, then rename it to ``path``; returns the
    largest difference.  A file differing by more than ``tolerance`` is removed and
    :class:`ExportMismatch` raised."""
    from accent.inference.backends import OnnxBackend, TorchScriptBackend

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    module, meta = graph_for_format(graph, meta, fmt)
    onnx = fmt.startswith("onnx")
    try:
        WRITERS["onnx" if onnx else "torchscript"](module, meta, tmp)
        _fsync(tmp)
        backend = OnnxBackend(tmp) if onnx else TorchScriptBackend(tmp, module_device(module).type)
        diff = max_difference(module, backend, meta)
        if not diff <= tolerance:
            raise ExportMismatch(f"{path}: the exported model differs from PyTorch by {diff:.2e} > {tolerance:g}; "
                                 "not written")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return diff


def export_torchscript(graph: InferenceGraph, meta: Mapping[str, Any], path: Union[str, Path],
                       tolerance: float = 1e-4) -> Path:
    """:func:`export_model` to TorchScript; returns the path."""
    export_model(graph, meta, "torchscript", path, tolerance)
    return Path(path)


def export_onnx(graph: InferenceGraph, meta: Mapping[str, Any], path: Union[str, Path],
                tolerance: float = 1e-4) -> Path:
    """:func:`export_model` to ONNX; returns the path."""
    export_model(graph, meta, "onnx", path, tolerance)
    return Path(path)


def max_difference(graph: nn.Module, backend, meta: Mapping[str, Any],
                   shapes: Sequence[Tuple[int, int]] = ((1, 0), (3, 0))) -> float:
    """Largest |posterior| and |embedding| difference between the graph and an exported backend
    on random inputs (``shapes``: (batch, length); 0 = longer than the export example, by 57
    frames or 57 frames' worth of samples plus 3)."""
    worst = 0.0
    for i, (b, t) in enumerate(shapes):
        step = 1 if input_kind(meta) != WAVEFORM else FbankConfig.from_dict(meta["frontend"]).window_samples()[1]
        longer = example_inputs(meta)[0].size(1) + 57 * step + (step > 1) * 3
        x, lengths = example_inputs(meta, "cpu", b, t or longer, seed=i + 1)
        with torch.no_grad():
            ref = [y.cpu().numpy() for y in graph.to("cpu")(x, lengths)]
        out = backend(x.numpy(), lengths.numpy())
        worst = max(worst, *(float(np.abs(a - r).max()) for a, r in zip(out, ref)))
    return worst
