"""utils/queue.pl (accent.jobs, sge backend).

There is no GridEngine here: the qsub command line and the batch script are checked as built,
and the submit-and-wait loop runs against a stand-in ``qsub``/``qstat`` (shell scripts that run
the array's tasks on this machine), which is enough to check what queue.pl does with them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import List, Sequence

import pytest

import accent

from accent.jobs.queue import QueueFiles, batch_script
from accent.jobs.queue_config import cli_options, map_options, parse_config
from accent.jobs.sge import SgeBackend, sge_job_name
from accent.jobs.spec import UsageError, parse_command_line

pytestmark = pytest.mark.slow  # GridEngine jobs through a stand-in qsub

ROOT = Path(__file__).resolve().parents[1]
QUEUE_PL = ROOT / "utils" / "queue.pl"
RECIPE_CONF = ROOT / "egs" / "aesrc" / "conf" / "queue.conf"


def qsub_argv(args: Sequence[str], config: str = None, cwd: str = "/r") -> List[str]:
    spec = parse_command_line([*(["--config", config] if config else []), *args], "queue.pl")
    backend = SgeBackend()
    backend.check(spec)
    return backend.submit_command(spec, QueueFiles.for_spec(spec, cwd))


def test_qsub_command_line_with_the_default_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no conf/queue.conf: Kaldi's queue.pl default
    argv = qsub_argv(["--mem", "4G", "--num-threads", "2", "-tc", "3", "--gpu", "1", "--time", "1:00:00",
                      "JOB=1:10", "exp/x/log/train.JOB.log", "train.sh"])
    assert argv == [
        "qsub", "-v", "PATH", "-cwd", "-S", "/bin/bash", "-j", "y", "-l", "arch=*64*",
        "-l", "mem_free=4G,ram_free=4G", "-pe", "smp", "2", "-tc", "3", "-l", "gpu=1", "-q", "g.q",
        "-l", "h_rt=1:00:00",
        "-terse", "-N", "train", "-t", "1:10", "-o", "/r/exp/x/q/train-$TASK_ID.out", "/r/exp/x/q/train.sh",
    ]
    # nothing asked: nothing added (num_threads=1, mem=0 and gpu=0 add nothing either)
    argv = qsub_argv(["--num-threads", "1", "--mem", "0", "exp/log/a.log", "true"])
    assert argv[10:] == ["-terse", "-N", "a", "-t", "1:1", "-o", "/r/exp/q/a-$TASK_ID.out", "/r/exp/q/a.sh"]


def test_recipe_queue_conf() -> None:
    config = parse_config(RECIPE_CONF.read_text(), str(RECIPE_CONF))
    spec = parse_command_line(["--mem", "2G", "--max-jobs-run", "4", "l.log", "true"])
    assert map_options(config, cli_options(spec.options)) == [
        "-l", "mem_free=2G,ram_free=2G", "-tc", "4", "-q", "all.q"
    ]


def test_option_not_in_the_config(tmp_path: Path) -> None:
    (tmp_path / "q.conf").write_text("command qsub -cwd\noption mem=* -l mem_free=$0\n")
    with pytest.raises(UsageError, match=f"option --max-jobs-run 2 is not described in config file {tmp_path}/q.conf"):
        qsub_argv(["-tc", "2", "l.log", "true"], config=str(tmp_path / "q.conf"))


def test_batch_script() -> None:
    spec = parse_command_line(["JOB=3:4", "exp/log/a.JOB.log", "echo", "JOB"])
    files = QueueFiles.for_spec(spec, "/r d")
    script = batch_script("/r d/exp/q/a.json", files, "/r d", "SGE_TASK_ID", 3, ["# queue.pl: qsub ..."])
    lines = script.splitlines()
    assert lines[:5] == [
        "#!/bin/bash", "# queue.pl: qsub ...", "cd '/r d' || exit 1", "[ -f ./path.sh ] && . ./path.sh",
        "task=${SGE_TASK_ID:-3}",
    ]
    # the node runs this checkout's package with this interpreter
    root = Path(os.path.abspath(accent.__file__)).parents[1]
    assert lines[5] == (
        f'exec env PYTHONPATH={root}"${{PYTHONPATH:+:$PYTHONPATH}}" '
        f"{sys.executable} -m accent.jobs exec --spec '/r d/exp/q/a.json' --index \"$task\" "
        "--status-file '/r d/exp/q/a.'\"$task\".status"
    )


def test_job_names() -> None:
    assert sge_job_name("make_fbank_train") == "make_fbank_train"
    assert sge_job_name("1st") == "j1st"
    assert sge_job_name("a:b") == "a_b"


def _env(path_dirs: Sequence[str]) -> dict:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), *path_dirs, "/usr/bin", "/bin"])
    return env


def test_without_qsub_a_clear_error(tmp_path: Path) -> None:
    r = subprocess.run([str(QUEUE_PL), "JOB=1:2", "log/a.JOB.log", "true"], cwd=tmp_path, env=_env([]),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "queue.pl: cannot run qsub: command not found (is this a GridEngine submit host" in r.stderr
    assert "queue.pl: the command was: qsub -v PATH -cwd" in r.stderr
    assert "Not submitted: cannot run qsub" in (tmp_path / "log/a.1.log").read_text()


# A stand-in GridEngine: qsub runs the array's tasks here (before answering, so the job is over
# when queue.pl first asks), task FAIL_TASK not at all, as if cancelled before it started.
FAKE_QSUB = """#!/bin/bash
echo "$@" > "$FAKE_SGE_DIR/qsub.args"
if [ -n "${QSUB_REFUSE:-}" ]; then echo "Unable to run job: $QSUB_REFUSE" >&2; exit 1; fi
range= out= script=
while [ $# -gt 0 ]; do
  case "$1" in
    -t) range=$2; shift 2 ;;
    -o) out=$2; shift 2 ;;
    -N|-v|-S|-j|-l|-pe|-q|-tc) shift 2 ;;
    -*) shift ;;
    *) script=$1; shift ;;
  esac
done
for i in $(seq ${range%:*} ${range#*:}); do
  [ "$i" = "${SKIP_TASK:-0}" ] && continue
  SGE_TASK_ID=$i bash "$script" > "${out//\\$TASK_ID/$i}" 2>&1 &
done
wait
echo "4242.${range%:*}-${range#*:}:1"
"""
FAKE_QSTAT = """#!/bin/bash
echo "qstat $*" >> "$FAKE_SGE_DIR/qstat.calls"
echo "Following jobs do not exist: " >&2; echo "$2" >&2; exit 1
"""


@pytest.fixture
def fake_sge(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("qsub", FAKE_QSUB), ("qstat", FAKE_QSTAT), ("qdel", "#!/bin/sh\nexit 0\n")):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return bin_dir


def run_queue_pl(args: Sequence[str], cwd: Path, fake: Path, **extra: str) -> subprocess.CompletedProcess:
    env = _env([str(fake)])
    env["FAKE_SGE_DIR"] = str(fake)
    env.update(extra)
    return subprocess.run([str(QUEUE_PL), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def test_array_job_through_a_stand_in_qsub(tmp_path: Path, fake_sge: Path) -> None:
    work = tmp_path / "w"
    work.mkdir()
    r = run_queue_pl(["--mem", "1G", "JOB=1:3", "exp/log/t.JOB.log", "echo part JOB; [ JOB != 2 ] || exit 4"],
                     work, fake_sge)
    assert r.returncode == 1
    assert "queue.pl: 1 / 3 failed, log is in exp/log/t.2.log" in r.stderr and "# Ended (code 4)" in r.stderr
    assert "-l mem_free=1G,ram_free=1G -terse -N t -t 1:3" in (fake_sge / "qsub.args").read_text()
    for i in (1, 3):
        text = (work / f"exp/log/t.{i}.log").read_text()
        assert f"\npart {i}\n" in text and "# Ended (code 0)" in text
    assert (work / "exp/q/t-2.out").exists()
    assert not (fake_sge / "qstat.calls").exists()  # every status file was there: no need to ask


def test_task_that_never_ran_counts_as_failed(tmp_path: Path, fake_sge: Path) -> None:
    r = run_queue_pl(["JOB=1:3", "log/t.JOB.log", "true"], tmp_path, fake_sge, SKIP_TASK="2")
    assert r.returncode == 1
    assert "queue.pl: task 2 of job 4242 ended without an exit status" in r.stderr
    assert "queue.pl: 1 / 3 failed, log is in log/t.2.log" in r.stderr
    assert "# Ended (code 1)" in (tmp_path / "log/t.2.log").read_text()
    assert "qstat -j 4242" in (fake_sge / "qstat.calls").read_text()


def test_qsub_refusal_fails_at_once_with_its_message(tmp_path: Path, fake_sge: Path) -> None:
    r = run_queue_pl(["--gpu", "2", "JOB=1:2", "log/t.JOB.log", "touch ran.JOB"], tmp_path, fake_sge,
                     QSUB_REFUSE="error: no suitable queues")
    assert r.returncode == 1
    assert "queue.pl: qsub refused the job (exit status 1): Unable to run job: error: no suitable queues" in r.stderr
    assert "-l gpu=2 -q g.q" in r.stderr  # the command line is shown
    assert not list(tmp_path.glob("ran.*"))
