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

Both return ``posteriors`` (B, C) and ``embedding`` (B, E).  The metadata (JSON, the ONNX
``metadata_props`` entry ``accent`` / the TorchScript extra file ``accent.json``) says which input a
file takes in its ``input`` entry (:func:`input_spec`), so nobody has to guess the scale.
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
FEATS, WAVEFORM = "feats", "waveform"  # the two input kinds
INPUT_NAMES = {FEATS: ["feats", "lengths"], WAVEFORM: ["waveform", "num_samples"]}
OUTPUT_NAMES = ["posteriors", "embedding"]


def format_input(fmt: str) -> str:
    """The input kind of an export format (``*_wav``: waveform)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")
    return WAVEFORM if fmt.endswith("_wav") else FEATS


def input_spec(kind: str, frontend: FbankConfig, min_frames: int) -> Dict[str, Any]:
    """The ``input`` entry of the metadata: what the graph takes, spelled out."""
    if kind == FEATS:
        return {"kind": FEATS, "names": INPUT_NAMES[FEATS], "dtype": "float32", "fbank_scale": "int16",
                "description": f"raw Kaldi FBank (B, T, {frontend.num_mel_bins}) of samples on the int16 scale "
                               f"([-1, 1] x {INT16_SCALE:g}, as compute-fbank-feats reads audio) at "
                               f"{frontend.sample_rate} Hz, and lengths (B,) in frames; FBank of [-1, 1] samples "
                               "(torchaudio/lhotse defaults) is 20.8 lower per bin and gives wrong posteriors"}
    length, shift = frontend.window_samples()
    return {"kind": WAVEFORM, "names": INPUT_NAMES[WAVEFORM], "dtype": "float32", "scale": [-1.0, 1.0],
            "sample_rate": frontend.sample_rate, "channels": 1,
            "min_samples": (min_frames - 1) * shift + length,
            "description": f"mono float32 samples in [-1, 1] (int16 / {INT16_SCALE:g}; soundfile.read(path, "
                           f"dtype='float32')) at {frontend.sample_rate} Hz, (B, S), and num_samples (B,); "
                           "resample other rates first; FBank and normalisation are inside"}


def input_kind(meta: Mapping[str, Any]) -> str:
    """``feats`` or ``waveform``; files exported before the entry existed take features."""
    return (meta.get("input") or {}).get("kind", FEATS)


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
