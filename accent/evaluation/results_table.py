"""All experiments of a recipe in one table, laid out like the AESRC papers' Table 2.

One row per experiment directory: its name, the config it was trained from and the commit that
trained it, the dev accuracy of each accent (AESRC order), the dev accuracy over utterances and the
macro average, and the test accuracy when a labelled test set was scored.  The numbers are
recomputed from the decode directories' ``predictions.tsv`` (written by ``accent.bin.score``).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from .predictions import decode_dir, decode_scores
from .scoring import Score, accent_order, markdown_table, pct

NA = "n/a"
_HASH = re.compile(r"^([0-9a-f]{10})[0-9a-f]{30}(.*)$")


@dataclass
class Experiment:
    name: str
    config: str
    commit: str
    scores: Dict[str, Score]   # set name -> scores of the labelled scored sets
    checkpoint: str = "best.pt"


def set_scores(exp_dir: Path, sets: Sequence[str], checkpoint: str = "best.pt") -> Dict[str, Score]:
    """Scores (per utterance, with per-speaker ``.speakers``) of the labelled sets among ``sets``
    that have been decoded in ``exp_dir`` with ``checkpoint``."""
    out = {}
    for name in sets:
        path = decode_dir(exp_dir, name, checkpoint)
        if (path / "predictions.tsv").is_file():
            s = decode_scores(path)
            if s is not None:
                out[name] = s
    return out


def _results_json(exp_dir: Path) -> dict:
    path = exp_dir / "results.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def config_name(exp_dir: Path) -> str:
    """The config the experiment was trained from: results.json's ``config``, else the ``--config``
    of the command line at the top of ``log/train.log`` (Kaldi-style job logs start with it)."""
    cfg = _results_json(exp_dir).get("config")
    if isinstance(cfg, str):
        return cfg
    log = exp_dir / "log" / "train.log"
    if log.is_file():
        with open(log, encoding="utf-8", errors="replace") as f:
            first = f.readline()
        if first.startswith("#"):
            try:
                args = shlex.split(first[1:])
            except ValueError:
                args = []
            if "--config" in args[:-1]:
                return args[args.index("--config") + 1]
    return NA


def commit_of(exp_dir: Path, checkpoint: str = "best.pt") -> str:
    """The commit that trained the experiment (results.json, else the checkpoint), shortened."""
    results = _results_json(exp_dir)
    commit = results.get("commit")
    ckpt_path = exp_dir / checkpoint
    if "commit" not in results and ckpt_path.is_file():  # results.json from before commits were recorded
        from accent.models.checkpoint import load_checkpoint
        commit = load_checkpoint(ckpt_path).get("commit")
    if not commit:
        return NA
    m = _HASH.match(str(commit))
    return m.group(1) + m.group(2) if m else str(commit)


def load_experiment(exp_dir: Path, sets: Sequence[str] = ("dev", "test"), checkpoint: Optional[str] = None
                    ) -> Experiment:
    """An experiment's row; ``checkpoint``: the scored one (default: the experiment's own,
    :func:`accent.models.checkpoint.experiment_checkpoint`, as stage 6 scores it)."""
    from accent.models.checkpoint import experiment_checkpoint

    exp_dir = Path(exp_dir)
    if not exp_dir.is_dir():
        raise FileNotFoundError(f"{exp_dir}: no such experiment directory")
    if checkpoint is None:
        try:
            checkpoint = experiment_checkpoint(exp_dir).name
        except FileNotFoundError:
            checkpoint = "best.pt"  # not trained: a row of dashes
    return Experiment(exp_dir.name, config_name(exp_dir), commit_of(exp_dir, checkpoint),
                      set_scores(exp_dir, sets, checkpoint), checkpoint)


def results_table(experiments: Sequence[Experiment], dev: str = "dev", test: str = "test") -> str:
    """The Markdown table: per-accent dev accuracy, dev accuracy and macro, test accuracy."""
    accents = accent_order(a for e in experiments if dev in e.scores for a in e.scores[dev].accents)
    with_test = any(test in e.scores for e in experiments)
    header = ["experiment", "config", *accents, f"{dev} acc", f"{dev} macro", f"{dev} spk acc"]
    header += [f"{test} acc", f"{test} spk acc"] if with_test else []
    header += ["checkpoint", "commit"]
    rows: List[List[str]] = []

    def spk(s: Optional[Score]) -> str:
        return pct(s.speakers.accuracy) if s is not None and s.speakers is not None else "-"

    for e in experiments:
        d: Optional[Score] = e.scores.get(dev)
        row = [e.name, e.config, *(pct(d.per_accent.get(a)) if d else "-" for a in accents),
               pct(d.accuracy) if d else "-", pct(d.macro) if d else "-", spk(d)]
        if with_test:
            t = e.scores.get(test)
            row += [pct(t.accuracy) if t else "-", spk(t)]
        rows.append(row + [e.checkpoint, e.commit])
    return markdown_table(header, rows, left=2)


_LISTED = "<!-- experiments: "


def listed_experiments(path: Path) -> List[Path]:
    """The experiment directories a results document was made from (its last line)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    if not lines or not lines[-1].startswith(_LISTED) or not lines[-1].endswith(" -->"):
        return []
    return [Path(p) for p in shlex.split(lines[-1][len(_LISTED):-len(" -->")])]


def results_document(experiments: Sequence[Experiment], title: str = "Accent recognition results",
                     dev: str = "dev", test: str = "test", exp_dirs: Optional[Sequence[Path]] = None) -> str:
    """The Markdown document; ``exp_dirs`` are listed in its last line (a comment) so that a later
    call can merge its experiments in (:func:`listed_experiments`)."""
    listed = ("\n" + _LISTED + " ".join(shlex.quote(str(d)) for d in exp_dirs) + " -->\n") if exp_dirs else ""
    return (f"# {title}\n\nAccuracy (%) of each experiment's checkpoint (avg_N.pt when its config averages "
            "checkpoints, else best.pt): per accent on dev (AESRC order), over all dev utterances, the macro "
            "average over accents, over the dev speakers (one decision per speaker from the summed "
            "log-posteriors of its utterances), and over the test utterances (and speakers) where a labelled "
            "test set was scored.  Made by `python -m accent.bin.collect_results`; "
            "per-experiment details in `exp/<name>/results.md`.\n\n" + results_table(experiments, dev, test)
            + listed)
