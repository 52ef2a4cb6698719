"""Benchmark the FBank front end: x real time (one thread) of Fbank and of what it replaces.

    python -m accent.bin.bench_fbank [--seconds 60] [--batch 15] [--real-audio DIR] [--json out.json]

Rows: the torch Fbank (one utterance and batched, and exported to ONNX Runtime),
kaldi-native-fbank frame by frame as the old compute_fbank ran it, and lhotse's Fbank. Then the
largest difference from kaldi-native-fbank on that audio and on a few real recordings
(``../shared/saa_dev/audio`` beside the repository, when present).
"""

from __future__ import annotations

import os

# as accent.bin.bench: idle OpenMP threads sleep instead of spinning (set before torch loads)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
from pathlib import Path  # noqa: E402

from accent.bin.bench import write_rows  # noqa: E402
from accent.utils.cli import run  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--seconds", type=float, default=60.0, help="seconds of speech-like audio")
    p.add_argument("--batch", type=int, default=15, help="utterances the audio is cut into for the batched rows")
    p.add_argument("--min-time", type=float, default=2.0, help="CPU seconds of timed calls per row")
    p.add_argument("--real-audio", type=Path, default=None,
                   help="folder of real recordings to compare on (default: ../shared/saa_dev/audio beside the repo)")
    p.add_argument("--real-files", type=int, default=10, help="recordings compared")
    p.add_argument("--json", default=None, help="also write the results as JSON here")
    args = p.parse_args()

    from accent.features.bench import benchmark, default_real_audio, format_report, real_audio_agreement

    result = benchmark(args.seconds, args.batch, args.min_time)
    audio_dir = args.real_audio or default_real_audio()
    real = None
    if audio_dir.is_dir():
        real = real_audio_agreement(audio_dir, args.real_files)
        note = f"real audio {audio_dir}"
    else:
        note = f"real audio: {audio_dir} not found, no comparison on real recordings (--real-audio DIR)"
    print(format_report(result, real, note), flush=True)
    write_rows([{**result, "real_audio": real}], args.json)


if __name__ == "__main__":
    run(main)
