"""The toolkit's commands as the recipe runs them: copies of egs/aesrc that write into a temporary
directory, their run.sh, and accent.bin.train."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def recipe_copy(where: Path) -> Path:
    """A copy of egs/aesrc in ``where`` (run.sh and conf/ copied, the shared parts linked as in the repo),
    so that data/, exp/ and fbank/ land in a temporary directory."""
    recipe = where / "recipe"
    recipe.mkdir()
    shutil.copy2(REPO / "egs/aesrc/run.sh", recipe / "run.sh")
    shutil.copytree(REPO / "egs/aesrc/conf", recipe / "conf")
    for name in ("path.sh", "cmd.sh", "utils", "local"):
        (recipe / name).symlink_to(REPO / name)
    return recipe


def run_recipe(recipe: Path, *args: str) -> subprocess.CompletedProcess:
    """``./run.sh args`` in ``recipe`` with this venv's python first on PATH and the local backend."""
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    env.pop("cmd_backend", None)
    return subprocess.run(["./run.sh", *args], cwd=recipe, env=env, capture_output=True, text=True, timeout=600)


def train_cli(args, cwd: Path, check: bool = True, wait: bool = True):
    """``python -m accent.bin.train --num-threads 1 args``; with ``wait=False`` the running Popen."""
    cmd = [sys.executable, "-m", "accent.bin.train", "--num-threads", "1", *args]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    if not wait:
        return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    if check and r.returncode != 0:
        raise AssertionError(f"train.py failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


def egs_copy(where: Path, name: str) -> Path:
    """egs/<name> in ``where``: run.sh, conf/ and local/ copied (links resolved), the shared parts linked,
    so that downloads/, data/ and exp/ land in a temporary directory."""
    recipe = where / name
    recipe.mkdir()
    shutil.copy2(REPO / "egs" / name / "run.sh", recipe / "run.sh")
    for sub in ("conf", "local"):
        if (REPO / "egs" / name / sub).is_dir():
            shutil.copytree(REPO / "egs" / name / sub, recipe / sub, symlinks=False)
    for shared in ("path.sh", "cmd.sh", "utils"):
        (recipe / shared).symlink_to(REPO / shared)
    return recipe


def run_egs(recipe: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"], OMP_NUM_THREADS="1")
    env.pop("cmd_backend", None)
    return subprocess.run(["./run.sh", *args], cwd=recipe, env=env, capture_output=True, text=True, timeout=900)
