"""Start-up and end-to-end time of ``accent-id`` with a waveform-in ONNX model, in fresh processes.

Rows, each a new process measured by the kernel's accounting of it (wall and CPU seconds, the
median of ``repeats`` runs; the rows' runs are interleaved, so that load on a shared machine falls
on all of them alike):

* ``bare import``: ``python -c "import onnxruntime, soundfile, numpy"``, the floor of any program
  that reads audio and runs ONNX Runtime;
* ``accent-id --help`` and ``accent-id`` on one short file: start-up, as ratios to the bare import;
* ``accent-id --threads 1`` on ``num_files`` files with this tree's ``model_wav.onnx``, and the same
  with the tree of another commit (``baseline_tree``, e.g. a worktree of 1570574) and the
  ``model.onnx`` that tree exports from the same checkpoint (converted to the format of
  checkpoints before normalisation moved into the model, when that tree cannot read it:
  :func:`legacy_checkpoint`, the same weights): the speed-up, and the largest difference between
  the two runs' posteriors (the same model on the same files).

Every process runs with ``OMP_NUM_THREADS=1`` and ``PYTHONPATH`` set to its tree (from a neutral
working directory, so that no other checkout shadows it).  Without a checkpoint, a demo-size CRNN
accent model with random weights is used (:func:`accent.inference.bench_memory.random_model`):
speed does not depend on the weights.  Without audio, a small demo AESRC2020 corpus is generated.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .bench_memory import measure, random_model

ROOT = Path(__file__).resolve().parents[2]  # this tree
ACCENT_ID = ["-m", "accent.cli.accent_id"]


def tree_env(tree: Path) -> Dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE")


def check_tree(tree: Path, workdir: Path) -> None:
    """Fail unless ``import accent`` in ``tree``'s environment loads ``tree``'s package."""
    r = subprocess.run([sys.executable, "-c", "import accent; print(accent.__file__)"], env=tree_env(tree),
                       cwd=workdir, capture_output=True, text=True, check=True)
    if not Path(r.stdout.strip()).resolve().is_relative_to(tree.resolve()):
        raise RuntimeError(f"{tree}: its environment imports accent from {r.stdout.strip()}")


def export_with(tree: Path, checkpoint: Path, out_dir: Path, fmt: str, workdir: Path) -> Path:
    """``accent.bin.export --format fmt`` of ``checkpoint`` as ``tree``'s code writes it."""
    r = subprocess.run([sys.executable, "-m", "accent.bin.export", "--exp-dir", str(checkpoint.parent),
                        "--checkpoint", checkpoint.name, "--out-dir", str(out_dir), "--format", fmt],
                       env=tree_env(tree), cwd=workdir, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"export by {tree} failed:\n{r.stderr[-3000:]}")
    return out_dir / ("model_wav.onnx" if fmt == "onnx_wav" else "model.onnx")


def legacy_checkpoint(src: Path, dst: Path) -> Path:
    """A copy of ``src`` as checkpoints were before normalisation moved into the model (1570574
    and the commits up to that change read them): the normaliser as a ``normalizer`` entry
    (FeatureNormalizer.to_dict()) instead of ``normalize.*`` buffers in the state dict."""
    import torch

    ckpt = torch.load(src, map_location="cpu", weights_only=True)
    mode = ckpt["config"].get("data", {}).get("cmvn", "none")
    state = ckpt["model"]
    stats = [None if mode != "global" else [float(x) for x in state[f"normalize.{k}"]] for k in ("mean", "std")]
    ckpt["model"] = {k: v for k, v in state.items() if not k.startswith("normalize.")}
    ckpt["normalizer"] = {"mode": mode, "mean": stats[0], "std": stats[1], "norm_vars": True}
    _empty_dir(dst.parent)
    torch.save(ckpt, dst)
    return dst


def export_baseline(tree: Path, checkpoint: Path, workdir: Path) -> Tuple[Path, Path]:
    """``model.onnx`` exported by ``tree`` from ``checkpoint``, or, if that tree cannot read it,
    from :func:`legacy_checkpoint` of it; returns the model and the checkpoint it was made from."""
    try:
        return export_with(tree, checkpoint, workdir / "export_baseline", "onnx", workdir), checkpoint
    except RuntimeError as first:
        legacy = legacy_checkpoint(checkpoint, workdir / "model_legacy" / "best.pt")
        try:
            return export_with(tree, legacy, workdir / "export_baseline", "onnx", workdir), legacy
        except RuntimeError as second:
            raise RuntimeError(f"{first}\n... and from the legacy copy {legacy}:\n{second}") from None


def demo_audio(workdir: Path, num_files: int) -> List[Path]:
    """The wav files of a demo AESRC2020 corpus (generated once), sorted."""
    out = workdir / "demo"
    if not (out / "aesrc2020.manifest.json").is_file():
        subprocess.run([sys.executable, "-m", "accent.bin.make_demo_corpus", "--out", str(out), "--what", "aesrc",
                        "--speakers-per-accent", "2", "--utts-per-speaker", str(max(4, -(-num_files // 16))),
                        "--dev-speakers-per-accent", "1", "--test-utts", "8", "--num-jobs", "1"],
                       env=tree_env(ROOT), cwd=workdir, check=True, capture_output=True)
    return sorted((out / "aesrc2020").rglob("*.wav"))


def read_tsv(path: Path) -> Dict[str, List[float]]:
    """{input: posteriors} of an ``accent-id --tsv`` output."""
    lines = path.read_text().splitlines()
    labels = lines[0].split("\t")[2:-3]
    return {f[0]: [float(x) for x in f[2:2 + len(labels)]] for f in (line.split("\t") for line in lines[1:])}


def benchmark(workdir: Path, checkpoint: Optional[Path] = None, audio: Optional[Sequence[Path]] = None,
              num_files: int = 50, baseline_tree: Optional[Path] = None, repeats: int = 5) -> Dict[str, Any]:
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    checkpoint = Path(checkpoint) if checkpoint else random_model(_empty_dir(workdir / "model") / "best.pt")
    files = [Path(f) for f in (audio or demo_audio(workdir, num_files))][:num_files]
    if len(files) < num_files:
        raise ValueError(f"{num_files} files asked for, {len(files)} found")
    check_tree(ROOT, workdir)
    model = export_with(ROOT, checkpoint, workdir / "export", "onnx_wav", workdir)
    py = [sys.executable]
    cases = {  # name -> (command, tree)
        "bare import": (py + ["-c", "import onnxruntime, soundfile, numpy"], ROOT),
        "accent-id --help": (py + ACCENT_ID + ["--help"], ROOT),
        "accent-id, 1 file": (py + ACCENT_ID + ["--model", str(model), "--threads", "1", str(files[0])], ROOT),
        f"accent-id, {num_files} files": (py + ACCENT_ID + ["--model", str(model), "--threads", "1", "--tsv",
                                                             *map(str, files)], ROOT),
    }
    if baseline_tree:
        baseline_tree = Path(baseline_tree).resolve()
        check_tree(baseline_tree, workdir)
        old, old_checkpoint = export_baseline(baseline_tree, checkpoint, workdir)
        cases[f"baseline, {num_files} files"] = (py + ACCENT_ID + ["--model", str(old), "--threads", "1", "--tsv",
                                                                   *map(str, files)], baseline_tree)
    runs: Dict[str, List[Dict[str, Any]]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, (cmd, tree) in cases.items():
            res = measure(cmd, workdir / f"{_slug(name)}.out", env=tree_env(tree), cwd=workdir)
            if res["status"] != 0:
                raise RuntimeError(f"{name}: exit status {res['status']} ({' '.join(cmd[:6])} ...)")
            runs[name].append(res)
    rows = [{"case": name, "tree": str(cases[name][1]), "runs": len(r),
             "wall_s": statistics.median(x["wall_s"] for x in r), "cpu_s": statistics.median(x["cpu_s"] for x in r),
             "peak_rss_mb": max(x["peak_rss_mb"] for x in r)} for name, r in runs.items()]
    result: Dict[str, Any] = {"rows": rows, "files": len(files), "repeats": repeats, "model": str(model),
                              "checkpoint": str(checkpoint),
                              "audio_seconds": sum(_duration(f) for f in files)}
    if baseline_tree:
        new = read_tsv(workdir / f"{_slug(f'accent-id, {num_files} files')}.out")
        base = read_tsv(workdir / f"{_slug(f'baseline, {num_files} files')}.out")
        result["baseline_tree"] = str(baseline_tree)
        result["baseline_model"] = str(old)
        result["baseline_checkpoint"] = str(old_checkpoint)
        result["max_posterior_difference"] = float(max(np.abs(np.subtract(new[k], base[k])).max() for k in new))
        result["same_labels"] = sum(int(np.argmax(new[k]) == np.argmax(base[k])) for k in new)
    return result


def _empty_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


def _duration(path: Path) -> float:
    import soundfile as sf

    return sf.info(str(path)).duration


def format_report(result: Dict[str, Any]) -> str:
    rows = {r["case"]: r for r in result["rows"]}
    bare = rows["bare import"]
    lines = [f"accent-id timings: median of {result['repeats']} interleaved runs per row, fresh processes, "
             "OMP_NUM_THREADS=1; ratios to the bare import (start-up) and to the baseline (end to end)",
             f"{'case':<26} {'wall s':>7} {'CPU s':>7} {'wall x':>7} {'CPU x':>7}"]
    for name, r in rows.items():
        ref = bare if name in ("bare import", "accent-id --help", "accent-id, 1 file") else None
        ratio = (f"{r['wall_s'] / ref['wall_s']:7.2f} {r['cpu_s'] / ref['cpu_s']:7.2f}" if ref else f"{'':7} {'':7}")
        lines.append(f"{name:<26} {r['wall_s']:7.2f} {r['cpu_s']:7.2f} {ratio}")
    n = result["files"]
    lines.append(f"{n} files: {result['audio_seconds']:.1f} s of audio; model {result['model']}")
    if "baseline_tree" in result:
        new, old = rows[f"accent-id, {n} files"], rows[f"baseline, {n} files"]
        lines.append(f"baseline {result['baseline_tree']} with {result['baseline_model']} (exported by that tree "
                     f"from {result['baseline_checkpoint']})")
        lines.append(f"end to end, {n} files: {old['wall_s'] / new['wall_s']:.2f}x faster than the baseline in wall "
                     f"time, {old['cpu_s'] / new['cpu_s']:.2f}x in CPU time; the same label for "
                     f"{result['same_labels']} of {n} files, posteriors within "
                     f"{result['max_posterior_difference']:.1e}")
    return "\n".join(lines)
