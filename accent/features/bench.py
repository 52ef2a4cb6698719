"""Speed and agreement of the FBank front end against the implementations it replaces.

kaldi-native-fbank (knf), the front end before :class:`accent.features.fbank.Fbank`, is kept
here only as the reference: :func:`knf_fbank` computes features exactly as ``compute_fbank``
did with it (the tests compare against it).

Speed is x real time = audio seconds per CPU second of the process, on one thread, the best of
repeated calls: CPU time rather than wall time, because on a shared machine a process waiting
for a core would otherwise count as slow.  The audio is espeak-ng speech in demo-corpus rooms.
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import torch

from accent.features.fbank import Fbank, FbankConfig, compute_fbank

AUDIO_SUFFIXES = (".wav", ".flac")


def knf_fbank(samples: np.ndarray, config: FbankConfig) -> np.ndarray:
    """(frames, bins) float32 features of samples in [-1, 1] by kaldi-native-fbank, frame by frame
    from Python as the old ``compute_fbank`` did; (0, bins) for input shorter than a frame."""
    import kaldi_native_fbank as knf

    opts = knf.FbankOptions()
    opts.frame_opts.samp_freq = config.sample_rate
    opts.frame_opts.frame_length_ms = config.frame_length_ms
    opts.frame_opts.frame_shift_ms = config.frame_shift_ms
    opts.frame_opts.dither = config.dither
    opts.frame_opts.snip_edges = config.snip_edges
    opts.mel_opts.num_bins = config.num_mel_bins
    opts.mel_opts.low_freq = config.low_freq
    opts.mel_opts.high_freq = config.high_freq
    fbank = knf.OnlineFbank(opts)
    fbank.accept_waveform(config.sample_rate, samples * 32768.0)  # Kaldi's int16 scale
    fbank.input_finished()
    frames = [fbank.get_frame(i) for i in range(fbank.num_frames_ready)]
    return np.stack(frames).astype(np.float32) if frames else np.zeros((0, config.num_mel_bins), np.float32)


def speech_like(seconds: float, seed: int = 0) -> np.ndarray:
    """``seconds`` of 16 kHz espeak-ng sentences, each in a random demo-corpus room, end to end."""
    from accent.demo.channel import apply_channel, draw_channel
    from accent.demo.espeak import Voice, synthesize
    from accent.demo.sentences import SentenceGenerator

    rng = np.random.default_rng(seed)
    sentences = SentenceGenerator(seed)
    pieces, total = [], 0
    while total < seconds * 16000:
        voice = Voice("en-us", f"m{rng.integers(1, 8)}", pitch=int(rng.integers(30, 70)))
        pieces.append(apply_channel(synthesize(sentences.sentence(), voice), draw_channel(rng), rng))
        total += len(pieces[-1])
    return np.concatenate(pieces)[: int(seconds * 16000)]


def differences(feats: np.ndarray, ref: np.ndarray) -> Tuple[float, float]:
    """Largest |feats - ref| over all bins, and over the bins within 60 dB of their frame's strongest
    in ``ref``: deeper below, float32 rounding in the FFT of either implementation dominates (float64
    differs from both there by as much as they differ from each other)."""
    diff = np.abs(feats - ref)
    strong = ref > ref.max(1, keepdims=True) - 6 * np.log(10.0)  # 60 dB in log energy
    return float(diff.max()), float(diff[strong].max())


def _cpu_seconds(fn: Callable[[], Any], min_time: float) -> float:
    """Best CPU seconds of one call of ``fn`` (one warm-up call, then at least 3 over ``min_time``)."""
    fn()
    best, spent, n = float("inf"), 0.0, 0
    while n < 3 or spent < min_time:
        t0 = time.process_time()
        fn()
        t = time.process_time() - t0
        best, spent, n = min(best, t), spent + t, n + 1
    return best


def _onnx_runner(fbank: Fbank, batch: torch.Tensor) -> Callable[[], Any]:
    """The module exported to ONNX (dynamic batch and length), run by ONNX Runtime on one thread."""
    import contextlib
    import io
    import logging

    import onnxruntime as ort

    for name in ("onnx_ir", "onnxscript", "torch.onnx", "torch.export"):
        logging.getLogger(name).setLevel(logging.ERROR)
    dims = ({0: torch.export.Dim("batch", max=1024), 1: torch.export.Dim("samples", min=400, max=10**8)},)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        program = torch.onnx.export(fbank, (batch[:2, :32000],), dynamo=True, dynamic_shapes=dims, verbose=False)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    session = ort.InferenceSession(program.model_proto.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    inputs = {session.get_inputs()[0].name: batch.numpy()}
    return lambda: session.run(None, inputs)


def benchmark(seconds: float = 60.0, batch: int = 15, min_time: float = 2.0) -> Dict[str, Any]:
    """x real time of each front end on ``seconds`` of speech (one thread), and the new one's
    largest difference from kaldi-native-fbank on that audio."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            # lhotse warns that its duration arithmetic assumes snip_edges=False; ours is True
            warnings.filterwarnings("ignore", message=".*snip_edges", category=UserWarning)
            return _measure(seconds, batch, min_time)
    finally:
        torch.set_num_threads(threads)


def _measure(seconds: float, batch: int, min_time: float) -> Dict[str, Any]:
    cfg = FbankConfig()
    audio = speech_like(seconds)
    piece = len(audio) // batch
    pieces = audio[: piece * batch].reshape(batch, piece)
    wave = torch.from_numpy(pieces)
    fbank = Fbank(cfg).eval()
    batched = f"{batch} x {piece / 16000:g} s"
    cases: List[tuple] = [
        ("Fbank via compute_fbank, one utterance", f"{seconds:g} s", lambda: compute_fbank(audio, 16000, cfg)),
        ("Fbank via compute_fbank, utterances one by one", batched,
         lambda: [compute_fbank(p, 16000, cfg) for p in pieces]),
        ("Fbank.forward, one batch (torch)", batched, lambda: fbank(wave)),
        ("Fbank.forward, one call (torch)", f"1 x {seconds:g} s", lambda: fbank(torch.from_numpy(audio)[None])),
    ]
    try:
        cases.append(("Fbank exported to ONNX, ONNX Runtime", batched, _onnx_runner(fbank, wave)))
    except ImportError as e:
        cases.append(("Fbank exported to ONNX, ONNX Runtime", f"not run: {e}", None))
    try:
        import kaldi_native_fbank  # noqa: F401

        cases.append(("kaldi-native-fbank, frame by frame (the old compute_fbank)", f"{seconds:g} s",
                      lambda: knf_fbank(audio, cfg)))
    except ImportError as e:
        cases.append(("kaldi-native-fbank, frame by frame (the old compute_fbank)", f"not run: {e}", None))
    try:
        import lhotse

        extractor = lhotse.Fbank(lhotse.FbankConfig(num_filters=cfg.num_mel_bins, snip_edges=True, dither=0.0,
                                                    low_freq=cfg.low_freq, high_freq=cfg.high_freq))
        cases.append(("lhotse Fbank (torch)", f"{seconds:g} s", lambda: extractor.extract(audio, 16000)))
    except ImportError as e:
        cases.append(("lhotse Fbank (torch)", f"not run: {e}", None))
    rows = [{"front end": name, "input": what,
             "x real time": None if fn is None else seconds / _cpu_seconds(fn, min_time)} for name, what, fn in cases]
    diff, diff_60db = differences(compute_fbank(audio, 16000, cfg), knf_fbank(audio, cfg))
    return {"rows": rows, "max_abs_diff_vs_knf": diff, "max_abs_diff_vs_knf_60dB": diff_60db, "seconds": seconds,
            "load_average": os.getloadavg()[0], "cpus": os.cpu_count(), "torch": torch.__version__}


def default_real_audio() -> Path:
    """``../shared/saa_dev/audio`` beside the repository (real accented speech, where present)."""
    return Path(__file__).resolve().parents[2].parent / "shared" / "saa_dev" / "audio"


def real_audio_agreement(audio_dir: Path, files: int = 10) -> List[Dict[str, Any]]:
    """:func:`differences` from kaldi-native-fbank on ``files`` real recordings spread over
    ``audio_dir``, each at its own sample rate, with 40 and 80 bins."""
    import soundfile as sf

    paths = sorted(p for p in Path(audio_dir).rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    if not paths:
        raise FileNotFoundError(f"{audio_dir}: no {'/'.join(AUDIO_SUFFIXES)} files")
    rows = []
    for path in paths[:: max(1, len(paths) // files)][:files]:
        samples, rate = sf.read(path, dtype="float32", always_2d=True)
        row: Dict[str, Any] = {"file": str(path.relative_to(audio_dir)), "sample_rate": rate,
                               "seconds": len(samples) / rate}
        for bins in (40, 80):
            cfg = FbankConfig(sample_rate=rate, num_mel_bins=bins)
            row[f"max_{bins}"], row[f"max_60dB_{bins}"] = differences(compute_fbank(samples[:, 0], rate, cfg),
                                                                       knf_fbank(samples[:, 0], cfg))
        rows.append(row)
    return rows


def format_report(result: Dict[str, Any], real: Optional[List[Dict[str, Any]]], real_note: str) -> str:
    lines = [f"FBank front ends, 40 bins 25/10 ms, {result['seconds']:g} s of espeak-ng speech at 16 kHz, one thread; "
             f"x real time = audio s / CPU s, best call (torch {result['torch']}, load average "
             f"{result['load_average']:.1f} on {result['cpus']} CPUs)"]
    width = max(len(r["front end"]) for r in result["rows"])
    for r in result["rows"]:
        rtf = f"{r['x real time']:7.0f}x" if r["x real time"] is not None else "       -"
        lines.append(f"  {r['front end']:<{width}}  {rtf}  {r['input']}")
    lines.append(f"max |Fbank - kaldi-native-fbank| on that audio, all bins / bins within 60 dB of the frame's peak: "
                 f"{result['max_abs_diff_vs_knf']:.2e} / {result['max_abs_diff_vs_knf_60dB']:.2e}")
    if real is None:
        lines.append(real_note)
        return "\n".join(lines)
    lines.append(f"{real_note}: max |Fbank - kaldi-native-fbank|, all bins / bins within 60 dB of the frame's peak")
    lines.append(f"  {'file':<20} {'rate':>7} {'s':>5}  {'40 bins':>19}  {'80 bins':>19}")
    for r in real:
        lines.append(f"  {r['file']:<20} {r['sample_rate']:>7} {r['seconds']:5.1f}  "
                     f"{r['max_40']:.2e} / {r['max_60dB_40']:.2e}  {r['max_80']:.2e} / {r['max_60dB_80']:.2e}")
    worst = {k: max(r[k] for r in real) for k in ("max_40", "max_60dB_40", "max_80", "max_60dB_80")}
    lines.append(f"  {'largest':<34}  {worst['max_40']:.2e} / {worst['max_60dB_40']:.2e}"
                 f"  {worst['max_80']:.2e} / {worst['max_60dB_80']:.2e}")
    return "\n".join(lines)
