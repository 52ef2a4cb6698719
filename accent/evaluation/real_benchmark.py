"""The real-corpus benchmark: the recipe's own stages on an AESRC-layout root with held-out test
speakers (``lists/{train,test}_spk.txt``, the layout of SAA-dev), over several seeds.

For each seed, in ``<work>/seed<N>/`` (a recipe directory whose run.sh, conf/, local/, utils/ and
path.sh/cmd.sh link to ``egs/aesrc``):

1. a seeded dev split of the *train* speakers (``dev_per_accent`` per accent): models and settings
   are chosen on it, never on the test speakers;
2. ``run.sh --stage 1 --stop-stage 6`` with that dev list, the root's test speakers as
   ``--aesrc-test-spk-list``, the configs as ``--accent-configs`` and ``--seed`` for training;
   stage 6 scores dev and test per segment and per speaker (summed log-posteriors; the
   phonotactic system's own pooled-count speaker scores);
3. the pooled log-mel + logistic regression floor on the same split (C chosen by
   speaker-grouped cross-validation on the training speakers).

With ``--phonotactic true`` in the run options (the default of ``--preset real``), the phonotactic
system and its fusion with each config get rows too.  With ``refit`` (run.sh ``--refit true``), the
final systems are trained again on all the train speakers (the dev split's too) and fused with the
weights the dev-split systems chose: their rows (``*_refit``) have test columns only, and they are
what a user of the recipe would ship.

The table gives mean ± sd over the seeds of per-segment and per-speaker accuracy on dev and test,
training minutes (train + dev passes, from ``results.json``) and parameters.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from accent.data.kaldi_dir import read_list, write_text_atomic

from .linear_baseline import linear_baseline_scores
from .results_table import load_experiment

log = logging.getLogger(__name__)

RECIPE_LINKS = ("run.sh", "conf", "local", "utils", "path.sh", "cmd.sh")


def read_speakers(path: Path) -> List[str]:
    """``<ACC>-<SPK>`` lines of a speaker list."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; the benchmark needs lists/train_spk.txt and lists/test_spk.txt")
    spks = read_list(path)
    bad = [s for s in spks if "-" not in s]
    if bad:
        raise ValueError(f"{path}: expected '<ACC>-<SPK>' lines, got {bad[0]!r}")
    return spks


def dev_split(train_speakers: Sequence[str], per_accent: int, seed: int) -> List[str]:
    """``per_accent`` speakers of each accent, drawn with ``seed``: the dev speakers."""
    rng = np.random.default_rng([20261201, seed])
    dev: List[str] = []
    for acc in sorted({s.split("-", 1)[0] for s in train_speakers}):
        spks = sorted(s for s in train_speakers if s.split("-", 1)[0] == acc)
        if len(spks) <= per_accent:
            raise ValueError(f"accent {acc} has {len(spks)} training speakers: too few for {per_accent} dev speakers")
        dev.extend(rng.choice(spks, size=per_accent, replace=False).tolist())
    return sorted(dev)


def recipe_dir(work: Path, egs: Path) -> Path:
    """``work`` as a recipe directory: the shared parts of ``egs`` linked, as recipes link utils/."""
    work.mkdir(parents=True, exist_ok=True)
    for name in RECIPE_LINKS:
        link = work / name
        if not link.exists():
            link.symlink_to((egs / name).resolve())
    return work


@dataclass
class Row:
    system: str
    params: Optional[int] = None
    minutes: List[float] = field(default_factory=list)
    values: Dict[str, List[float]] = field(default_factory=dict)  # "dev seg", "test spk", ... -> per seed

    def add(self, key: str, value: Optional[float]) -> None:
        if value is not None:
            self.values.setdefault(key, []).append(100.0 * value)


COLUMNS = ("dev seg", "dev spk", "test seg", "test spk")


def run_seed(root: Path, egs: Path, work: Path, configs: Sequence[str], seed: int, per_accent: int,
             run_opts: Sequence[str] = (), train_opts: str = "") -> Path:
    """Stages 1-6 of the recipe for one seed; returns its recipe directory."""
    d = recipe_dir(work / f"seed{seed}", egs)
    dev = dev_split(read_speakers(root / "lists" / "train_spk.txt"), per_accent, seed)
    write_text_atomic(d / "dev_spk.list", "".join(f"{s}\n" for s in dev))
    cmd = ["./run.sh", "--stage", "1", "--stop-stage", "6", "--preset", "real", "--aesrc-root", str(root.resolve()),
           "--dev-spk-list", "dev_spk.list", "--aesrc-test-spk-list", str((root / "lists" / "test_spk.txt").resolve()),
           "--accent-configs", " ".join(configs), "--plots", "false", "--train-opts", f"--seed {seed} {train_opts}".strip(), *run_opts]
    log.info("seed %d: %s (in %s)", seed, " ".join(cmd), d)
    with open(d / "bench_real.log", "a", encoding="utf-8") as out:
        proc = subprocess.run(cmd, cwd=d, stdout=out, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise RuntimeError(f"seed {seed}: run.sh failed with code {proc.returncode}; see {d / 'bench_real.log'}")
    return d


def collect(seed_dirs: Sequence[Path], configs: Sequence[str]) -> List[Row]:
    """One row per system over the seeds' recipe directories: the linear floor, the phonotactic
    system (when trained), each config, each config fused with the phonotactic system, (with
    several configs) all of them fused, and the same again refitted (``<name>_refit``: test only)."""
    from accent.utils.naming import experiment_name

    base = [experiment_name(c) for c in configs]
    names: List[str] = []
    for tag in ("", "_refit"):  # the dev-split systems, then (run.sh --refit true) the refitted ones
        systems = [f"{n}{tag}" for n in base]
        names += ([f"phonotactic{tag}"] + systems + [f"{n}_prlm_fusion" for n in systems]
                  + ([f"fusion{tag}"] if len(systems) > 1 else []))
    rows = {"lr": Row("pooled log-mel + LR"), **{n: Row(n) for n in names}}
    for d in seed_dirs:
        for n in names:
            exp = d / "exp" / n
            if not (exp / "results.json").is_file():
                continue
            e = load_experiment(exp)
            res = json.loads((exp / "results.json").read_text())
            rows[n].params = int(res["params"]["trainable"])
            rows[n].minutes.append(float(res["train_time_s"]) / 60.0)
            for name in ("dev", "test"):
                s = e.scores.get(name)
                rows[n].add(f"{name} seg", s.accuracy if s else None)
                rows[n].add(f"{name} spk", s.speakers.accuracy if s and s.speakers else None)
        for name in ("dev", "test"):
            seg, spk = linear_baseline_scores(d / "data" / "train", d / "data" / name)
            rows["lr"].add(f"{name} seg", seg)
            rows["lr"].add(f"{name} spk", spk)
    return [r for r in rows.values() if r.values]


def mean_sd(xs: Sequence[float]) -> str:
    """``mean ± sd`` of per-seed (or per-repeat) figures, one decimal; one figure alone, ``-`` for none."""
    if not xs:
        return "-"
    if len(xs) == 1:
        return f"{xs[0]:.1f}"
    return f"{statistics.mean(xs):.1f} ± {statistics.stdev(xs):.1f}"


def table(rows: Sequence[Row], seeds: Sequence[int]) -> str:
    header = ["system", "params", "train min", *COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|---|--:|--:|" + "--:|" * len(COLUMNS)]
    for r in rows:
        params = f"{r.params / 1e6:.2f}M" if r.params else "-"
        minutes = f"{statistics.mean(r.minutes):.1f}" if r.minutes else "-"
        lines.append("| " + " | ".join([r.system, params, minutes, *(mean_sd(r.values.get(c, [])) for c in COLUMNS)])
                     + " |")
    return (f"Accuracy % (mean ± sd over seeds {', '.join(map(str, seeds))}); seg = per segment, spk = per speaker "
            "(summed log-posteriors, or the phonotactic system's pooled counts); dev = a seeded split of the "
            "train speakers, test = the held-out speakers.\n\n"
            + "\n".join(lines) + "\n")


def benchmark(root: Path, configs: Sequence[str], seeds: Sequence[int], work: Path, egs: Path,
              per_accent: int = 6, jobs: int = 1, run_opts: Sequence[str] = (), train_opts: str = "",
              refit: bool = True) -> str:
    """Run every seed (``jobs`` at a time), write ``<work>/bench_real.{md,json}``, return the table.
    ``refit``: run.sh ``--refit true`` (``--preset real``'s default), the final systems trained again
    on all train speakers."""
    root, work = Path(root), Path(work)
    run_opts = ["--refit", "true" if refit else "false", *run_opts]
    if not (root / "lists" / "test_spk.txt").is_file():
        raise FileNotFoundError(f"{root}/lists/test_spk.txt: not found; the benchmark needs an AESRC-layout root "
                                "with lists/{train,test}_spk.txt (e.g. ../shared/saa_dev's make_layout.py output)")
    work.mkdir(parents=True, exist_ok=True)
    if jobs > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(jobs) as pool:
            dirs = list(pool.map(lambda s: run_seed(root, egs, work, configs, s, per_accent, run_opts, train_opts),
                                 seeds))
    else:
        dirs = [run_seed(root, egs, work, configs, s, per_accent, run_opts, train_opts) for s in seeds]
    rows = collect(dirs, configs)
    text = table(rows, seeds)
    write_text_atomic(work / "bench_real.md", f"Root: {root}\n\n" + text)
    write_text_atomic(work / "bench_real.json", json.dumps(
        {"root": str(root), "seeds": list(seeds), "rows": [r.__dict__ for r in rows]}, indent=2) + "\n")
    return text


def default_egs() -> Path:
    """egs/aesrc of this checkout (the benchmark runs the recipe's own stages)."""
    return Path(os.environ.get("ACCENT_ROOT", Path(__file__).resolve().parents[2])) / "egs" / "aesrc"
