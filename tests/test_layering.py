"""The package's layering, read from the source: code that serves or scores never imports training."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Set

PACKAGE = Path(__file__).resolve().parents[1] / "accent"
SERVING = ("inference", "export", "evaluation", "analysis", "cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> Set[str]:
    """Every module ``path`` imports, at module level or inside functions, relative ones resolved."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)  # `from pkg import module`
    return found


def graph() -> Dict[str, Set[str]]:
    return {module_name(p): imports(p) for p in PACKAGE.rglob("*.py")}


def test_serving_and_scoring_code_never_imports_training() -> None:
    offenders = {mod: sorted(i for i in imps if i == "accent.training" or i.startswith("accent.training."))
                 for mod, imps in graph().items() if mod.split(".")[1:2] and mod.split(".")[1] in SERVING}
    offenders = {m: i for m, i in offenders.items() if i}
    assert not offenders, f"serving/scoring modules import accent.training: {offenders}"


def test_the_scan_sees_imports_of_every_kind(tmp_path: Path) -> None:
    # the test above would pass vacuously if the scan missed lazy or relative imports
    mods = graph()
    assert "accent.training.checkpoint" in mods["accent.training.trainer"]            # relative, module level
    assert "accent.models.build" in mods["accent.evaluation.score_experiment"]        # inside a function
    assert "accent.training" in mods["accent.bin.train"]                              # absolute


def test_no_import_cycles_in_evaluation() -> None:
    mods = {m: {i for i in imps if i.startswith("accent.evaluation.")} for m, imps in graph().items()
            if m.startswith("accent.evaluation.")}

    def reaches(start: str, goal: str, seen: Set[str]) -> bool:
        for nxt in mods.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = sorted(m for m in mods if reaches(m, m, {m}))
    assert not cycles, f"modules of accent.evaluation in an import cycle: {cycles}"


def test_text_processing_does_not_import_the_data_preparation() -> None:
    # data/ (corpus preparation) normalises transcripts with text/; the file primitives both use
    # live in accent.utils.files
    offenders = {m: sorted(i for i in imps if i.startswith("accent.data"))
                 for m, imps in graph().items() if m.startswith("accent.text")}
    assert not {m: i for m, i in offenders.items() if i}, offenders
