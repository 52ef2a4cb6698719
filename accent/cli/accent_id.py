"""accent-id: the accent of spoken English in audio files.

Examples:
  accent-id --model exp/sarnet_circle/export/model_wav.onnx x.wav   # ONNX Runtime only: no torch
  accent-id --model exp/sarnet_circle x.wav y.flac some/dir/ data/test/wav.scp
  accent-id --model model_wav.onnx --json --embedding x.wav          # posteriors and embeddings
  accent-id --model model_wav.onnx --tsv --utt2spk utt2spk data/test/wav.scp > per_speaker.tsv
  accent-id --model model_wav.onnx --threads 1 --chunk-seconds 10 long_interview.flac

Models: an experiment dir (its avg_N.pt or best.pt), a .pt checkpoint, or a stage-7 export:
model_wav.onnx (waveform in, the FBank inside: needs only onnxruntime, numpy and soundfile, and
starts fastest), model.onnx / model.torchscript.pt (FBank features in, computed here with torch).

Inputs: audio files (anything libsndfile reads, any rate and channel count: down-mixed and
resampled, with a note), directories (their *.wav and *.flac, recursively) and Kaldi wav.scp
files (*.scp; pipes allowed).  Prints, per input, the most likely accent and the posterior of
every accent: an aligned table, or --json / --tsv for machines.  Inputs that cannot be scored
(unreadable, silent, too short) get a line on stderr naming them and the problem; the others are
still scored.

--utt2spk FILE (Kaldi's utt2spk format: '<input id> <group>' lines; ids as printed, i.e. the
utterance ids of a wav.scp or the paths as given) gives one decision per speaker or group
instead: the argmax of the summed log-posteriors of its scored inputs
(accent.evaluation.aggregate, the rule of stage 6's per-speaker accuracy); the group's
posteriors are those sums renormalised, and --json keeps the per-input results too.

Exit status: 0 every input scored; 3 some inputs not scored (named on stderr, the others
printed); 2 nothing scored: bad options, a missing or damaged model, a missing input; 1 accent-id
itself crashed (a traceback follows: please report it).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Dict, List, Sequence

PROGRESS_MIN_FILES = 10  # a progress bar (on a terminal) from this many inputs
EXIT_OK, EXIT_CRASH, EXIT_ERROR, EXIT_NOT_SCORED = 0, 1, 2, 3  # 1 is Python's own for an uncaught exception


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} must be > 0")
    return value


def device_name(text: str) -> str:
    """``cpu``, ``cuda``, ``cuda:N`` or ``auto`` (as torch spells devices)."""
    import re

    if not re.fullmatch(r"cpu|auto|cuda(:\d+)?", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a device: use cpu, cuda, cuda:N or auto")
    return text


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The epilog as written (examples), and the options' defaults (the help of those without one,
    None or off, says what happens then)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def package_version() -> str:
    """The installed distribution's version, else the source tree's (``accent.__version__``)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("accent")
    except PackageNotFoundError:
        import accent

        return accent.__version__


class VersionAction(argparse.Action):
    """``--version``, looked up only when asked (importlib.metadata costs start-up time)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        print(f"{parser.prog} {package_version()}")  # on stdout, as argparse's own "version" action
        parser.exit()


def parse_args(argv: Sequence[str] = None) -> argparse.Namespace:
    title, examples, rest = __doc__.split("\n\n", 2)
    p = argparse.ArgumentParser(prog="accent-id", description=title, epilog=f"{examples}\n\n{rest}",
                                formatter_class=HelpFormatter)
    p.add_argument("--version", action=VersionAction, help="print the version and exit")
    p.add_argument("inputs", nargs="+", help="audio files, directories, wav.scp files")
    p.add_argument("--model", required=True,
                   help="experiment dir, .pt checkpoint, or exported model_wav.onnx, model.onnx, model.torchscript.pt")
    p.add_argument("--checkpoint", default=None, help="checkpoint name within an experiment dir "
                   "(default: avg_N.pt if the config averages, else best.pt)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON document on stdout")
    out.add_argument("--tsv", action="store_true", help="tab-separated values with a header line")
    p.add_argument("--embedding", action="store_true", help="include the embeddings in --json")
    p.add_argument("--batch-size", type=positive_int, default=8, help="chunks scored together")
    p.add_argument("--chunk-seconds", type=positive_float, default=20.0,
                   help="longer audio is scored in chunks of at most this length and pooled")
    p.add_argument("--device", type=device_name, default="cpu", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--threads", type=positive_int, default=None, help="CPU threads (default: the runtime's, all cores)")
    p.add_argument("--quiet", action="store_true", help="no notes on stderr")
    p.add_argument("--utt2spk", default=None, metavar="FILE",
                   help="'<input id> <group>' lines: one decision per group (speaker) from its inputs")
    return p.parse_args(argv)


def table(rows: List[List[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
                     for r in rows)


def main(argv: Sequence[str] = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="accent-id: %(message)s")
    from accent.data.audio import AudioError
    from accent.data.kaldi_dir import DataDirError
    from accent.inference import AccentRecognizer, expand_inputs

    try:
        inputs = expand_inputs(args.inputs)
        recognizer = AccentRecognizer.from_pretrained(args.model, device=args.device, threads=args.threads,
                                                      checkpoint=args.checkpoint, chunk_seconds=args.chunk_seconds)
    except (AudioError, DataDirError, FileNotFoundError, ValueError) as e:
        print(f"accent-id: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    labels = recognizer.labels
    groups = None
    if args.utt2spk:
        try:
            groups = read_groups(args.utt2spk, list(inputs))
        except (DataDirError, OSError, ValueError) as e:
            print(f"accent-id: error: {e}", file=sys.stderr)
            return 2
    progress = len(inputs) >= PROGRESS_MIN_FILES and sys.stderr.isatty()
    results, failed = [], 0
    for pred in recognizer.predict_many(inputs, batch_size=args.batch_size, progress=progress):
        results.append(pred)
        if not pred.ok:
            failed += 1
            print(f"accent-id: {pred.status}: {pred.message}", file=sys.stderr)
        elif pred.notes and not args.quiet:
            print(f"accent-id: note: {pred.id}: {', '.join(pred.notes)}", file=sys.stderr)

    if groups is not None:
        print_groups(args, labels, results, groups, recognizer.notes)
    elif args.json:
        doc = {"model": str(args.model), "labels": labels, "model_notes": recognizer.notes,
               "results": [p.to_dict(embedding=args.embedding) for p in results]}
        print(json.dumps(doc, indent=2))
    elif args.tsv:
        print("\t".join(["id", "accent", *labels, "duration", "status", "message"]))
        for p in results:
            probs = [f"{p.posteriors[lab]:.6f}" if p.ok else "" for lab in labels]
            print("\t".join([p.id, p.label or "", *probs, f"{p.duration:.3f}", p.status, p.message or ""]))
    else:
        rows = [["input", "accent", *labels]]
        for p in results:
            probs = [f"{p.posteriors[lab]:.3f}" if p.ok else "-" for lab in labels]
            rows.append([p.id, p.label or f"({p.status})", *probs])
        print(table(rows))
    if failed:
        print(f"accent-id: {failed} of {len(results)} inputs not scored", file=sys.stderr)
    return EXIT_NOT_SCORED if failed else EXIT_OK


def read_groups(path: str, ids: List[str]) -> Dict[str, str]:
    """The --utt2spk mapping; every input id needs a line."""
    from accent.data.kaldi_dir import read_mapping

    mapping = read_mapping(path)
    missing = [i for i in ids if i not in mapping]
    if missing:
        raise ValueError(f"{path}: no line for input {missing[0]!r} ({len(missing)} of {len(ids)} inputs have none)")
    return mapping


def print_groups(args: argparse.Namespace, labels: List[str], results: list, utt2group: Dict[str, str],
                 model_notes: List[str]) -> None:
    """One decision per group of scored inputs (summed log-posteriors)."""
    import numpy as np

    from accent.evaluation.aggregate import group_decisions, log_posteriors

    ok = [p for p in results if p.ok]
    post = np.array([[p.posteriors[lab] for lab in labels] for p in ok]).reshape(len(ok), len(labels))
    g = group_decisions([p.id for p in ok], log_posteriors(post), utt2group, labels, args.utt2spk)
    posts = g.posteriors
    if args.json:
        doc = {"model": str(args.model), "labels": labels, "model_notes": model_notes,
               "groups": [{"id": name, "accent": hyp, "posteriors": dict(zip(labels, map(float, pg))),
                           "log_posterior_sums": dict(zip(labels, map(float, lg))),
                           "inputs": [ok[i].id for i in idx]}
                          for name, hyp, pg, lg, idx in zip(g.groups, g.hyps, posts, g.log_posteriors, g.members)],
               "results": [p.to_dict(embedding=args.embedding) for p in results]}
        print(json.dumps(doc, indent=2))
    elif args.tsv:
        print("\t".join(["group", "accent", *labels, "inputs"]))
        for name, hyp, pg, idx in zip(g.groups, g.hyps, posts, g.members):
            print("\t".join([name, hyp, *(f"{x:.6f}" for x in pg), str(len(idx))]))
    else:
        rows = [["group", "accent", *labels, "inputs"]]
        for name, hyp, pg, idx in zip(g.groups, g.hyps, posts, g.members):
            rows.append([name, hyp, *(f"{x:.3f}" for x in pg), str(len(idx))])
        print(table(rows))


if __name__ == "__main__":
    sys.exit(main())
