"""Accent ID scores as the AESRC2020 papers report them, from (reference, prediction) pairs.

* Per-accent accuracy (the recall of each accent: correct / utterances of that accent) for the
  accents present in the reference, in the AESRC order ``US UK CHN IND JPN KR PT RU`` (other labels
  follow, sorted).
* Total accuracy over utterances (the challenge's metric) and the macro average over the accents of
  the reference (not skewed by unbalanced sets).
* The confusion matrix (rows: reference, columns: prediction) over the model's labels plus any other
  label seen, in the same order.
* The same scores per speaker (``utt2spk``): one decision per speaker from the summed
  log-posteriors of its utterances, or from the system's own speaker scores where it has them
  (the phonotactic system's pooled phone counts; :mod:`accent.evaluation.aggregate`).

Pure functions; the text and file renderings are at the end.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence

import numpy as np
from sklearn.metrics import confusion_matrix

from accent.data.kaldi_dir import write_text_atomic

AESRC_ORDER = ("US", "UK", "CHN", "IND", "JPN", "KR", "PT", "RU")


def accent_order(labels: Iterable[str]) -> List[str]:
    """``labels`` (deduplicated) in the AESRC order; labels outside it follow, sorted."""
    labels = set(labels)
    return [a for a in AESRC_ORDER if a in labels] + sorted(labels - set(AESRC_ORDER))


@dataclass
class Score:
    """The scores of one scored set."""

    accents: List[str]                  # accents of the reference, AESRC order
    per_accent: Dict[str, float]        # accent -> accuracy (fraction)
    counts: Dict[str, int]              # accent -> reference utterances
    correct: Dict[str, int]             # accent -> correctly predicted utterances
    accuracy: float                     # over utterances
    macro: float                        # mean of per_accent
    utterances: int
    labels: List[str] = field(default_factory=list)   # confusion matrix axes
    confusion: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))
    speakers: Optional["Score"] = None  # the per-speaker scores of the same set (``utterances`` = speakers)


def score(refs: Sequence[str], hyps: Sequence[str], labels: Optional[Sequence[str]] = None) -> Score:
    """Score predictions ``hyps`` against ``refs``; ``labels``: the model's label list (the
    confusion matrix shows all of them even when a set lacks some)."""
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} predictions")
    if not refs:
        raise ValueError("nothing to score: no utterances")
    accents = accent_order(refs)
    axes = accent_order([*(labels or []), *refs, *hyps])
    cm = confusion_matrix(list(refs), list(hyps), labels=axes)
    index = {a: i for i, a in enumerate(axes)}
    counts = {a: int(cm[index[a]].sum()) for a in accents}
    correct = {a: int(cm[index[a], index[a]]) for a in accents}
    per_accent = {a: correct[a] / counts[a] for a in accents}
    return Score(
        accents=accents, per_accent=per_accent, counts=counts, correct=correct,
        accuracy=float(np.trace(cm) / cm.sum()), macro=float(np.mean(list(per_accent.values()))),
        utterances=len(refs), labels=axes, confusion=cm,
    )


def score_with_speakers(utts: Sequence[str], refs: Sequence[str], hyps: Sequence[str], labels: Sequence[str],
                        log_posteriors: Optional[np.ndarray] = None, utt2spk: Optional[Mapping[str, str]] = None,
                        where: str = "utt2spk", speaker_scores: Optional[Mapping[str, np.ndarray]] = None) -> Score:
    """:func:`score` per utterance, with ``.speakers`` the per-speaker score when ``utt2spk`` and
    the log-posteriors (columns: ``labels``) are given; ``speaker_scores``: the system's own score
    of each speaker, decided on instead of the summed log-posteriors."""
    s = score(refs, hyps, labels)
    if utt2spk is not None and log_posteriors is not None:
        from .aggregate import group_decisions

        g = group_decisions(utts, log_posteriors, utt2spk, labels, where, speaker_scores)
        s.speakers = score(g.refs(refs, where), g.hyps, labels)
    return s


# ------------------------------------------------------------------------------------------------
# Renderings


def pct(x: Optional[float]) -> str:
    """A fraction as a percentage with two decimals, ``-`` for none."""
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.2f}"


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]], left: int = 1) -> str:
    """A GitHub Markdown table, the first ``left`` columns left-aligned and the others right-aligned."""
    rows = [list(map(str, r)) for r in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in rows)) if rows else len(str(h)) for i, h in enumerate(header)]
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) if i < left else c.rjust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths))) + " |"
    sep = "|" + "|".join(("-" * (w + 2)) if i < left else ("-" * (w + 1) + ":") for i, w in enumerate(widths)) + "|"
    return "\n".join([line([str(h) for h in header]), sep, *(line(r) for r in rows)]) + "\n"


def summary_columns(scores: Mapping[str, Score]) -> List[str]:
    """The accent columns of a table of ``scores``: every accent of any set, AESRC order."""
    return accent_order(a for s in scores.values() for a in s.accents)


SUMMARY_HEADER = ("set", "unit", "n")  # then the accents, acc, macro


def summary_rows(scores: Mapping[str, Score]) -> List[List[str]]:
    """Per set a row of utterance-level scores (unit ``utt``) and, when scored, one of speaker-level
    scores (unit ``spk``): name, unit, count, per-accent accuracy (%), total accuracy, macro."""
    cols = summary_columns(scores)
    rows = []
    for name, s in scores.items():
        for unit, x in (("utt", s), ("spk", s.speakers)):
            if x is not None:
                rows.append([name, unit, str(x.utterances), *(pct(x.per_accent.get(a)) for a in cols),
                             pct(x.accuracy), pct(x.macro)])
    return rows


def summary_markdown(scores: Mapping[str, Score], title: str, checkpoint: str = "") -> str:
    header = [*SUMMARY_HEADER, *summary_columns(scores), "acc", "macro"]
    ckpt = f"Checkpoint: `{checkpoint}`.\n\n" if checkpoint else ""
    return (f"# {title}\n\n{ckpt}Accuracy (%) per accent (AESRC order), over all utterances or speakers (acc) "
            "and the mean over accents (macro); unit `utt`: one decision per utterance, `spk`: one per speaker "
            "(utt2spk), from the summed log-posteriors of its utterances (the phonotactic system and fusions with "
            "it: their own speaker scores, speaker_scores.tsv).\n\n"
            + markdown_table(header, summary_rows(scores), left=2))


def summary_csv(scores: Mapping[str, Score]) -> str:
    """The table of :func:`summary_markdown` as CSV (accuracies in %)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*SUMMARY_HEADER, *summary_columns(scores), "acc", "macro"])
    w.writerows(summary_rows(scores))
    return buf.getvalue()


def confusion_text(s: Score) -> str:
    """The confusion matrix as counts and as percentages of each reference row."""
    labels, cm = s.labels, s.confusion
    w = max(6, *(len(a) for a in labels))
    def table(cell) -> List[str]:
        out = ["ref\\hyp".ljust(w) + "".join(a.rjust(w + 1) for a in labels) + "total".rjust(w + 1)]
        for i, a in enumerate(labels):
            out.append(a.ljust(w) + "".join(cell(i, j).rjust(w + 1) for j in range(len(labels)))
                       + str(int(cm[i].sum())).rjust(w + 1))
        return out
    rows = cm.sum(axis=1)
    counts = table(lambda i, j: str(int(cm[i, j])))
    percent = table(lambda i, j: f"{100 * cm[i, j] / rows[i]:.1f}" if rows[i] else "-")
    return "\n".join(["# confusion matrix: rows = reference, columns = prediction (utterances)", *counts, "",
                      "# per reference accent (% of its utterances)", *percent]) + "\n"


def set_markdown(name: str, s: Score, source: str = "") -> str:
    """The scores of one set: per-accent table, totals, and the confusion matrix."""
    rows = [[a, str(s.counts[a]), str(s.correct[a]), pct(s.per_accent[a])] for a in s.accents]
    rows.append(["total", str(s.utterances), str(sum(s.correct.values())), pct(s.accuracy)])
    rows.append(["macro", "", "", pct(s.macro)])
    src = f"\n{source}\n" if source else ""
    out = (f"# {name}\n{src}\n" + markdown_table(["accent", "utts", "correct", "acc (%)"], rows)
           + "\n```\n" + confusion_text(s) + "```\n")
    if s.speakers is not None:
        k = s.speakers
        rows = [[a, str(k.counts[a]), str(k.correct[a]), pct(k.per_accent[a])] for a in k.accents]
        rows.append(["total", str(k.utterances), str(sum(k.correct.values())), pct(k.accuracy)])
        rows.append(["macro", "", "", pct(k.macro)])
        out += ("\n## per speaker\n\nOne decision per speaker (utt2spk): the summed log-posteriors of its "
                "utterances, or the system's own speaker scores (speaker_scores.tsv) where it has them.\n\n" + markdown_table(["accent", "spks", "correct", "acc (%)"], rows)
                + "\n```\n" + confusion_text(k).replace("(utterances)", "(speakers)")
                .replace("of its utterances", "of its speakers") + "```\n")
    return out


def write_set_results(out_dir: Path, name: str, s: Score, source: str = "") -> None:
    """``results.md``, ``results.csv`` and ``confusion.txt`` of one set (each written atomically)."""
    out_dir = Path(out_dir)
    write_text_atomic(out_dir / "results.md", set_markdown(name, s, source))
    write_text_atomic(out_dir / "results.csv", summary_csv({name: s}))
    write_text_atomic(out_dir / "confusion.txt", confusion_text(s))
