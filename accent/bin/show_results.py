"""Print a table of the best dev metric of experiment directories (their results.json)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import List, Sequence, Tuple

from accent.utils.cli import run


def results_table(exp_dirs: Sequence[Path]) -> str:
    rows: List[Tuple[str, ...]] = [("experiment", "dev metric", "best epoch", "epochs", "train time")]
    for d in exp_dirs:
        path = Path(d) / "results.json"
        if not path.is_file():
            rows.append((str(d), "-", "-", "-", "-"))
            continue
        r = json.loads(path.read_text())
        value = "-" if r.get("best_value") is None else f"{100 * r['best_value']:.2f}% {r.get('metric', '')}".strip()
        rows.append((str(d), value, str(r["best_epoch"]), str(r["epochs"]), f"{r['train_time_s'] / 60:.1f} min"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row)) for row in rows
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("exp_dirs", type=Path, nargs="+")
    print(results_table(p.parse_args().exp_dirs))


if __name__ == "__main__":
    run(main)
