"""The files stage 7 writes: their names, their two kinds of input, and their metadata (no torch).

Two graphs are exported, each as TorchScript and ONNX:

* features in (``model.onnx``, ``model.torchscript.pt``): ``feats`` (B, T, D) float32 raw Kaldi
  FBank and ``lengths`` (B,) int64 frames.  The FBank must be computed on the **int16 sample scale**
  (Kaldi's ``compute-fbank-feats``; samples in [-1, 1] times 32768): FBank of [-1, 1] samples, as
  torchaudio and lhotse compute it by default, is lower by 2 ln 32768 = 20.8 in every bin and gives
  wrong posteriors (12 % instead of 80 % on demo dev) without any error.
* waveform in (``model_wav.onnx``, ``model_wav.torchscript.pt``): ``waveform`` (B, S) float32 mono
  samples **in [-1, 1]** (``soundfile.read(path, dtype="float32")``; int16 samples / 32768) at the
  model's **sample rate**, and ``num_samples`` (B,) int64; the FBank (which scales by 32768 itself)
  and the normalisation are inside the graph, so users need no feature code.

A model trained on samples (the ssl encoder, ``data.features: waveform``) has no FBank: its
features-in files take ``feats`` (B, S, 1) samples in [-1, 1] and ``lengths`` in samples, and its
waveform-in files (B, S) samples, the same function; its "frames" (``min_frames``, chunks) are
samples.

Both return ``posteriors`` (B, C) and ``embedding`` (B, E).  The metadata (JSON, the ONNX
``metadata_props`` entry ``accent`` / the TorchScript extra file ``accent.json``) says which input a
file takes in its ``input`` entry (:func:`input_spec`), so nobody has to guess the scale.  The
eager graph's metadata (:func:`accent.export.graph.metadata`) has the model's input there as a
name (``fbank`` or ``waveform``); :func:`input_kind` and :func:`frames_are_samples` read both.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Union

from accent.features.fbank_config import INT16_SCALE, FbankConfig

METADATA_KEY = "accent"  # ONNX metadata_props key / TorchScript extra file "accent.json"
EXTRA_FILE = f"{METADATA_KEY}.json"

FORMATS = ("torchscript", "onnx", "torchscript_wav", "onnx_wav")
FILENAMES = {"torchscript": "model.torchscript.pt", "onnx": "model.onnx",
             "torchscript_wav": "model_wav.torchscript.pt", "onnx_wav": "model_wav.onnx"}
# what a graph takes: FBank frames (B, T, D); samples as 1-dim features (B, S, 1) (a model trained
# on samples, features in); samples (B, S) (waveform in)
FEATS, SAMPLES, WAVEFORM = "feats", "samples", "waveform"
INPUT_NAMES = {FEATS: ["feats", "lengths"], SAMPLES: ["feats", "lengths"], WAVEFORM: ["waveform", "num_samples"]}
OUTPUT_NAMES = ["posteriors", "embedding"]
MODEL_TAKES_SAMPLES = "waveform"  # graph.metadata's "input" of a model trained on samples


def format_input(fmt: str) -> str:
    """``waveform`` for the ``*_wav`` export formats, else ``feats`` (the model's own input)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")
    return WAVEFORM if fmt.endswith("_wav") else FEATS


def input_spec(kind: str, frontend: FbankConfig, min_frames: int, model_takes_samples: bool = False
               ) -> Dict[str, Any]:
    """The ``input`` entry of an exported file's metadata: what it takes, spelled out.  ``kind``:
    ``feats`` (the model's own input: FBank, or samples (B, S, 1) for a model trained on samples)
    or ``waveform``."""
    rate = frontend.sample_rate
    unit = {"frames": "samples" if model_takes_samples else "fbank"}  # of min_frames and of chunks
    if kind == FEATS and not model_takes_samples:
        return {"kind": FEATS, "names": INPUT_NAMES[FEATS], "dtype": "float32", "fbank_scale": "int16", **unit,
                "description": f"raw Kaldi FBank (B, T, {frontend.num_mel_bins}) of samples on the int16 scale "
                               f"([-1, 1] x {INT16_SCALE:g}, as compute-fbank-feats reads audio) at "
                               f"{rate} Hz, and lengths (B,) in frames; FBank of [-1, 1] samples "
                               "(torchaudio/lhotse defaults) is 20.8 lower per bin and gives wrong posteriors"}
    if model_takes_samples:
        min_samples = min_frames
    else:
        length, shift = frontend.window_samples()
        min_samples = (min_frames - 1) * shift + length
    kind = SAMPLES if kind == FEATS else WAVEFORM
    shape = "(B, S, 1)" if kind == SAMPLES else "(B, S)"
    inside = "" if model_takes_samples else "; FBank and normalisation are inside"
    return {"kind": kind, "names": INPUT_NAMES[kind], "dtype": "float32", "scale": [-1.0, 1.0],
            "sample_rate": rate, "channels": 1, "min_samples": min_samples, **unit,
            "description": f"mono float32 samples in [-1, 1] (int16 / {INT16_SCALE:g}; soundfile.read(path, "
                           f"dtype='float32')) at {rate} Hz, {shape}, and their number (B,); resample other "
                           f"rates first{inside}"}


def input_kind(meta: Mapping[str, Any]) -> str:
    """``feats``, ``samples`` or ``waveform`` (see INPUT_NAMES); files exported before the entry
    existed take FBank features."""
    spec = meta.get("input")
    if isinstance(spec, Mapping):
        return spec["kind"]
    return SAMPLES if spec == MODEL_TAKES_SAMPLES else FEATS


def frames_are_samples(meta: Mapping[str, Any]) -> bool:
    """Whether the model's frames (``min_frames``, chunk lengths) are samples rather than FBank frames."""
    spec = meta.get("input")
    if isinstance(spec, Mapping):
        return spec.get("frames") == "samples"
    return spec == MODEL_TAKES_SAMPLES


def parse_metadata(path: Union[str, Path], text: Optional[str]) -> Dict[str, Any]:
    """The metadata JSON ``text`` found in the exported file ``path`` (a clear error when absent)."""
    if not text:
        raise ValueError(f"{path}: no accent metadata (not exported by accent.bin.export)")
    return json.loads(text)


def is_onnx(path: Union[str, Path]) -> bool:
    return Path(path).suffix.lower() == ".onnx"


def is_torchscript(path: Union[str, Path]) -> bool:
    """A TorchScript archive (a zip holding ``code/``) rather than a ``torch.save``d checkpoint."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            return any("/code/" in n or n.startswith("code/") for n in z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def read_metadata(path: Union[str, Path]) -> Dict[str, Any]:
    """The metadata of an exported file (either format; TorchScript needs torch)."""
    from accent.utils.integrity import check_onnx, check_zip_archive

    path = Path(path)
    if is_onnx(path):
        return parse_metadata(path, check_onnx(path, METADATA_KEY).get(METADATA_KEY))
    check_zip_archive(path, "TorchScript model")
    import torch

    extra = {EXTRA_FILE: ""}
    torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    return parse_metadata(path, extra[EXTRA_FILE])
