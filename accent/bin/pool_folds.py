"""Pool the test scores of cross-validation folds: one row per fold and the pooled accuracy.

    python -m accent.bin.pool_folds --out RESULTS_folds.md exp/demo_ecapa_fold1 exp/demo_ecapa_fold2 ...

Reads each experiment's ``results.csv`` (stage 4's scoring) and sums the correct decisions over the
folds: when every speaker is tested in exactly one fold (L2-ARCTIC's folds), the pooled speaker
accuracy is over all the corpus's speakers, so its resolution is one speaker in all of them, where a
fold's is one speaker in its few test speakers.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path
from typing import Dict, List, Tuple

from accent.data.kaldi_dir import write_text_atomic
from accent.data.problems import CorpusError
from accent.utils.cli import run


def test_rows(exp_dir: Path, name: str) -> Dict[str, Tuple[int, float]]:
    """unit (utt, spk) -> (number scored, accuracy %) of set ``name`` in ``exp_dir/results.csv``."""
    path = exp_dir / "results.csv"
    if not path.is_file():
        raise CorpusError(f"{path}: missing (score the experiment first: stage 4)")
    with open(path, newline="", encoding="utf-8") as f:
        rows = {r["unit"]: (int(r["n"]), float(r["acc"])) for r in csv.DictReader(f) if r["set"] == name}
    if set(rows) != {"utt", "spk"}:
        raise CorpusError(f"{path}: no utt and spk rows of set {name!r} (was it scored with its labels?)")
    return rows


def pooled_table(exp_dirs: List[Path], name: str = "test") -> str:
    lines = [f"| experiment | {name} utts | {name} acc | {name} spk | {name} spk acc |", "|---|--:|--:|--:|--:|"]
    total = {"utt": [0, 0.0], "spk": [0, 0.0]}
    for d in exp_dirs:
        rows = test_rows(d, name)
        for unit, (n, acc) in rows.items():
            total[unit][0] += n
            total[unit][1] += n * acc / 100
        lines.append(f"| {d.name} | {rows['utt'][0]} | {rows['utt'][1]:.2f} | {rows['spk'][0]} | {rows['spk'][1]:.2f} |")
    (nu, cu), (ns, cs) = total["utt"], total["spk"]
    lines.append(f"| **pooled** | {nu} | {100 * cu / nu:.2f} | {ns} | {100 * cs / ns:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("exp_dirs", type=Path, nargs="+", help="the experiments of the folds")
    p.add_argument("--set", default="test", help="the scored set to pool")
    p.add_argument("--out", type=Path, help="Markdown file to write (atomically)")
    a = p.parse_args()
    table = pooled_table(a.exp_dirs, a.set)
    if a.out:
        write_text_atomic(a.out, table)
    print(table, end="")


if __name__ == "__main__":
    run(main)
