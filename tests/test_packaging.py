"""Packaging: the base requirements of setup.py (``pip install accent``) cover every module that
``accent-id`` imports to score audio with an exported ONNX model, and the extras keep torch, the
exporters and the training stack out of it."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from importlib import metadata
from typing import Dict, List, Set

import pytest
from packaging.requirements import Requirement

from conftest import REPO, write_wav


def setup_lists() -> Dict[str, object]:
    """The module-level lists of setup.py (BASE, TORCH, EXTRAS), read without running setup()."""
    tree = ast.parse((REPO / "setup.py").read_text())
    names: Dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id in ("BASE", "TORCH"):
                names[node.targets[0].id] = ast.literal_eval(node.value)
    return names


def dist_name(requirement: str) -> str:
    """PEP 503 normalised project name of a requirement string."""
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", requirement).group(0)).lower()


def closure(requirements: List[str]) -> Set[str]:
    """The installed distributions that ``requirements`` pull in, with their own dependencies."""
    seen: Set[str] = set()
    todo = [dist_name(r) for r in requirements]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for req in metadata.requires(name) or []:
            marker = Requirement(req).marker
            # leave out a dependency of one of its extras only, or of another platform (colorama)
            if "extra ==" not in req and (marker is None or marker.evaluate()):
                todo.append(dist_name(req))
    return seen


def test_base_requirements_leave_out_torch_and_the_exporters() -> None:
    lists = setup_lists()
    base = {dist_name(r) for r in lists["BASE"]}
    assert base.isdisjoint({"torch", "onnx", "onnxscript", "lhotse", "kaldi-native-fbank"}), base
    assert "onnxruntime" in base and dist_name(lists["TORCH"]) == "torch"


@pytest.mark.slow  # the session fixture trained
def test_accent_id_on_an_onnx_model_imports_only_the_base_requirements(wav_exports, tmp_path) -> None:
    # the waveform-in file: FBank and CMVN inside, so `pip install accent` scores it (a features-in
    # model.onnx needs the torch FBank of the train extra)
    wav = write_wav(tmp_path / "x.wav", 1.0)
    modules = tmp_path / "modules.json"
    code = ("import json, sys\nfrom accent.cli.accent_id import main\n"
            f"rc = main(['--model', {str(next(iter(wav_exports.values())) / 'export' / 'model_wav.onnx')!r}, {str(wav)!r}])\n"
            f"open({str(modules)!r}, 'w').write(json.dumps({{'rc': rc, 'modules': sorted(sys.modules)}}))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert r.returncode == 0, r.stderr
    run = json.loads(modules.read_text())
    assert run["rc"] == 0 and "x.wav" in r.stdout
    owners = metadata.packages_distributions()
    # _distutils_hack: imported at start-up by the .pth file setuptools puts in every venv, not by us
    roots = ({m.split(".")[0] for m in run["modules"]} - set(sys.stdlib_module_names)
             - {"accent", "__main__", "_distutils_hack"})
    imported = {dist_name(d) for root in roots for d in owners.get(root, [])}
    allowed = closure(setup_lists()["BASE"])
    assert imported <= allowed, f"not in the base requirements (or theirs): {sorted(imported - allowed)}"
