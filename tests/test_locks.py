"""One writer per experiment / feature directory (accent.jobs.lock), with real processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from accent.data.kaldi_dir import write_data_dir
from accent.jobs.lock import DirectoryBusy, DirectoryLock
from conftest import make_corpus, process_alive, tiny_accent, write_wav

ROOT = Path(__file__).resolve().parents[1]


def hold_lock(directory: Path) -> subprocess.Popen:
    """Another process holding ``directory``'s lock until killed."""
    code = ("import sys, time; from accent.jobs.lock import DirectoryLock\n"
            "with DirectoryLock(sys.argv[1]):\n    print('held', flush=True); time.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(directory)], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.stdout.readline().strip() == "held"
    return proc


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_second_writer_is_refused_and_a_dead_holder_does_not_block(tmp_path: Path) -> None:
    holder = hold_lock(tmp_path / "exp")
    try:
        with pytest.raises(DirectoryBusy, match=f"in use by pid {holder.pid} on host {socket.gethostname()}"):
            with DirectoryLock(tmp_path / "exp"):
                pass
    finally:
        kill(holder)  # kill -9: the kernel frees the lock; the file stays with stale contents
    assert f"pid {holder.pid}" in (tmp_path / "exp/.lock").read_text()
    with DirectoryLock(tmp_path / "exp"):
        assert f"pid {os.getpid()} " in (tmp_path / "exp/.lock").read_text()
    with DirectoryLock(tmp_path / "exp"):  # released at the end of the block
        pass


def test_forked_children_of_the_writer_do_not_hold_its_lock(tmp_path: Path) -> None:
    # DataLoader workers are forks of the trainer: after a kill -9 of the trainer they linger a
    # while, and must not keep the experiment locked for the rerun.
    # each line in one write(): print() writes the text and the newline apart when stdout is
    # unbuffered (PYTHONUNBUFFERED), and the two processes' lines then interleave ("ready4711", "")
    code = ("import os, sys, time; from accent.jobs.lock import DirectoryLock\n"
            "with DirectoryLock(sys.argv[1]):\n"
            "    child = os.fork()\n"
            "    if child == 0:\n        os.write(1, b'ready\\n'); time.sleep(60); os._exit(0)\n"
            "    os.write(1, b'%d\\n' % child); time.sleep(120)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "exp")], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    lines = set()
    while len(lines) < 2:  # the child's "ready" and the parent's line with the child's pid, in either order
        line = holder.stdout.readline()
        if not line:
            holder.wait()
            pytest.fail(f"lock holder exited {holder.returncode} before its child was ready: {holder.stderr.read()}")
        lines.add(line.strip())
    child = int((lines - {"ready"}).pop())
    try:
        kill(holder)
        assert process_alive(child)
        with DirectoryLock(tmp_path / "exp"):
            pass
    finally:
        os.kill(child, signal.SIGKILL)


def _data_dir(tmp_path: Path) -> Path:
    wavs = {f"spk{s}-u{i}": str(write_wav(tmp_path / "wav" / f"{s}{i}.wav", 0.5, seed=10 * s + i))
            for s in range(2) for i in range(2)}
    write_data_dir(tmp_path / "data/x", {"wav.scp": wavs, "utt2spk": {u: u.split("-")[0] for u in wavs}})
    return tmp_path / "data/x"


def make_fbank(tmp_path: Path) -> subprocess.CompletedProcess:
    (tmp_path / "utils").symlink_to(ROOT / "utils")
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    return subprocess.run(["utils/make_fbank.sh", "--cmd", "utils/run.pl", "--nj", "2", "data/x", "exp/make_fbank/x", "fbank/x"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_make_fbank_refuses_a_feature_dir_in_use(tmp_path: Path) -> None:
    _data_dir(tmp_path)
    holder = hold_lock(tmp_path / "fbank/x")
    try:
        r = make_fbank(tmp_path)
    finally:
        kill(holder)
    assert r.returncode == 1
    assert f"utils/make_fbank.sh: fbank/x is in use by pid {holder.pid} on host" in r.stderr
    assert not (tmp_path / "exp/make_fbank").exists()  # stopped before anything ran
    (tmp_path / "utils").unlink()
    r = make_fbank(tmp_path)  # the holder is dead: its lock file does not block
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "data/x/feats.scp").is_file()


@pytest.mark.slow
def test_a_second_training_of_an_experiment_stops_at_once(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "corpus")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(tiny_accent(train__epochs=1)))
    cmd = [sys.executable, "-m", "accent.bin.train", "--num-threads", "1", "--config", "c.yaml",
           "--train-data", str(corpus["train"]), "--dev-data", str(corpus["dev"]), "--exp-dir", "exp/a"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    holder = hold_lock(tmp_path / "exp/a")
    try:
        r = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    finally:
        kill(holder)
    assert r.returncode != 0
    assert f"exp/a is in use by pid {holder.pid} on host" in r.stderr
    assert sorted(p.name for p in (tmp_path / "exp/a").iterdir()) == [".lock"]  # nothing written
    r = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "exp/a/best.pt").is_file()
