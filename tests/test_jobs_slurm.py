"""utils/slurm.pl (accent.jobs, slurm backend): the config mapping, and jobs on a real Slurm.

The cluster tests run against a single-node Slurm started for the session by
``tests/helpers/slurm_cluster.py`` (needs root and ``.ci/install_slurm.sh``; skipped otherwise, or failed
when ``ACCENT_REQUIRE_SLURM=1``, so that CI cannot skip them by accident).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterator, List, Sequence

import pytest

from accent.jobs.queue import QueueFiles
from accent.jobs.queue_config import DEFAULT_SLURM_CONFIG, cli_options, load_config, map_options, parse_config
from accent.jobs.slurm import SlurmBackend
from accent.jobs.spec import UsageError, parse_command_line
from conftest import (
    SlurmCluster, ddp_config, make_aesrc, make_corpus, make_librispeech, process_alive, recipe_copy,
    unavailable_reason, wait_for,
)

pytestmark = pytest.mark.slow  # a real Slurm cluster

ROOT = Path(__file__).resolve().parents[1]
SLURM_PL = ROOT / "utils" / "slurm.pl"
RECIPE_CONF = ROOT / "egs" / "aesrc" / "conf" / "slurm.conf"


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# The config file and the sbatch command line (no cluster needed)


def mapped(config_text: str, argv: Sequence[str], skip: Sequence[str] = ("max_jobs_run",)) -> List[str]:
    spec = parse_command_line([*argv, "l.log", "true"], "slurm.pl")
    return map_options(parse_config(config_text, "conf/x.conf"), cli_options(spec.options), skip=skip)


CONF = """\
command sbatch --export=PATH --ntasks-per-node=1   # comment
option time=* --time $0
option mem=* --mem-per-cpu $0
option mem=0
option num_threads=* --cpus-per-task $0
option num_threads=1 --cpus-per-task 1
default gpu=0
option gpu=0 -p cpu
option gpu=* -p gpu --gres=gpu:$0 --time 4:0:0
"""


def test_config_exact_value_wins_over_star_and_defaults_apply() -> None:
    assert mapped(CONF, []) == ["-p", "cpu"]  # default gpu=0 -> option gpu=0
    assert mapped(CONF, ["--gpu", "2"]) == ["-p", "gpu", "--gres=gpu:2", "--time", "4:0:0"]
    assert mapped(CONF, ["--mem", "0"]) == ["-p", "cpu"]  # `option mem=0`: nothing
    assert mapped(CONF, ["--mem", "4G", "--num-threads", "1"]) == ["--mem-per-cpu", "4G", "--cpus-per-task", "1", "-p", "cpu"]
    assert mapped(CONF, ["--num-threads", "3", "--time", "1:00:00"]) == ["--cpus-per-task", "3", "--time", "1:00:00", "-p", "cpu"]
    # the last of a repeated option wins; --config is not mapped
    assert mapped(CONF, ["--mem", "1G", "--config", "x", "--mem=2G"]) == ["--mem-per-cpu", "2G", "-p", "cpu"]
    config = parse_config(CONF, "conf/x.conf")
    assert config.command == ["sbatch", "--export=PATH", "--ntasks-per-node=1"]


def test_config_lines_in_any_order_and_star_without_arguments() -> None:
    text = "option gpu=* --gres=gpu:$0\noption gpu=0\ndefault gpu=0\ncommand sbatch\noption max_jobs_run=*\noption time=*\n"
    assert mapped(text, []) == []
    assert mapped(text, ["--time", "5", "--gpu", "1"]) == ["--gres=gpu:1"]
    assert mapped(text, ["--max-jobs-run", "3"], skip=()) == []
    assert mapped("command x\noption mem=* --mem='$0 per cpu'\n", ["--mem", "1G"]) == ["--mem=1G per cpu"]


def test_option_without_a_rule_is_an_error_naming_the_config() -> None:
    with pytest.raises(UsageError, match=r"option --mem 4G is not described in config file conf/x.conf"):
        mapped("command sbatch\noption gpu=* --gres=gpu:$0\n", ["--mem", "4G"])
    # an exact rule only: another value is not described either
    with pytest.raises(UsageError, match=r"option --gpu 1 is not described in config file conf/x\.conf"):
        mapped("command sbatch\noption gpu=0\n", ["--gpu", "1"])
    with pytest.raises(UsageError, match=r"'default gpu=0' is not described"):
        mapped("command sbatch\ndefault gpu=0\n", [])


@pytest.mark.parametrize(
    "text, message",
    [
        ("option mem=* --mem $0\n", 'does not contain the line "command'),
        ("command sbatch\nopton mem=* x\n", "unable to parse line 2 'opton mem=* x' in config file conf/x.conf"),
        ("command sbatch\noption mem=* --x 'a\n", "config file conf/x.conf, line 2"),
    ],
)
def test_bad_config_files(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        parse_config(text, "conf/x.conf")


def test_config_file_lookup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    # nothing given, no conf/slurm.conf: Kaldi's built-in default
    assert load_config(None, "conf/slurm.conf", DEFAULT_SLURM_CONFIG).source == "the default config"
    assert mapped(DEFAULT_SLURM_CONFIG, ["--gpu", "1", "--mem", "2G"]) == [
        "-p", "gpu", "--gres=gpu:1", "--time", "4:0:0", "--mem-per-cpu", "2G"
    ]
    # conf/slurm.conf of the current directory is read when there is one, as in Kaldi
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf/slurm.conf").write_text("command sbatch -A me\n")
    assert load_config(None, "conf/slurm.conf", DEFAULT_SLURM_CONFIG).command == ["sbatch", "-A", "me"]
    with pytest.raises(UsageError, match="cannot read config file conf/absent.conf"):
        load_config("conf/absent.conf", "conf/slurm.conf", DEFAULT_SLURM_CONFIG)


def test_recipe_sample_config_parses() -> None:
    config = load_config(str(RECIPE_CONF), "", "")
    assert config.command[0] == "sbatch"
    for option in ("mem", "gpu", "num_threads", "time"):
        assert config.describes(option), option
    assert mapped(read(RECIPE_CONF), ["--gpu", "1"])[:2] == ["-p", "gpu"]


def test_data_parallel_jobs_map_to_tasks_per_node_and_nodes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the recipe's config: one task per GPU on each of --num-nodes nodes (the last
    # --ntasks-per-node wins over the command's --ntasks-per-node=1)
    assert mapped(read(RECIPE_CONF), ["--gpu", "4", "--num-nodes", "2"]) == [
        "-p", "gpu", "--gres=gpu:4", "--ntasks-per-node=4", "--nodes=2"]
    assert mapped(read(RECIPE_CONF), ["--gpu", "1", "--num-nodes", "1"]) == [
        "-p", "gpu", "--gres=gpu:1", "--ntasks-per-node=1"]
    # Kaldi's default: one task with the GPUs (accent.bin.launch then uses torchrun on the node)
    assert mapped(DEFAULT_SLURM_CONFIG, ["--gpu", "2", "--num-nodes", "3"]) == [
        "-p", "gpu", "--gres=gpu:2", "--time", "4:0:0", "--nodes=3"]
    # a Kaldi config without a num_nodes line still serves single-node jobs (run.sh passes
    # --num-nodes only when > 1) and names the missing line otherwise
    assert mapped(CONF, ["--gpu", "2"]) == ["-p", "gpu", "--gres=gpu:2", "--time", "4:0:0"]
    with pytest.raises(UsageError, match=r"option --num-nodes 2 is not described in config file conf/x.conf"):
        mapped(CONF, ["--num-nodes", "2"])
    with pytest.raises(UsageError, match=r"invalid value '0' for --num-nodes"):
        parse_command_line(["--num-nodes", "0", "l.log", "true"])
    monkeypatch.chdir(tmp_path)
    backend = SlurmBackend()
    spec = parse_command_line(["--config", str(RECIPE_CONF), "--gpu", "2", "--num-nodes", "2", "exp/log/train.log",
                               "python", "-m", "accent.bin.launch", "--ngpu", "2", "--num-nodes", "2", "--", "x"])
    backend.check(spec)
    argv = backend.submit_command(spec, QueueFiles.for_spec(spec, "/r"))
    assert argv[:2] == ["sbatch", "--export=PATH"] and "--ntasks-per-node=2" in argv and "--nodes=2" in argv
    assert argv[-1] == "/r/exp/q/train.sh" and not any(a.startswith("--array") for a in argv)


@pytest.mark.parametrize(
    "log, qdir, name",
    [
        ("exp/x/log/foo.JOB.log", "exp/x/q", "foo"),
        ("exp/make_fbank/train/make_fbank_train.JOB.log", "exp/make_fbank/train/q", "make_fbank_train"),
        ("exp/log/prepare.log", "exp/q", "prepare"),
        ("log/JOB.log", "q", "job"),
        ("t.JOB.txt", "q", "t"),
    ],
)
def test_queue_files_layout(log: str, qdir: str, name: str) -> None:
    spec = parse_command_line(["JOB=1:2", log, "true"] if "JOB" in log else [log, "true"])
    files = QueueFiles.for_spec(spec, "/r")
    assert (files.qdir, files.name) == (f"/r/{qdir}", name)
    assert files.script == f"/r/{qdir}/{name}.sh"


def test_sbatch_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = SlurmBackend()
    spec = parse_command_line(["--max-jobs-run", "1", "--mem", "3G", "JOB=2:5", "exp/log/a.JOB.log", "true"])
    monkeypatch.chdir(tmp_path)  # no conf/slurm.conf here: the built-in default
    backend.check(spec)
    argv = backend.submit_command(spec, QueueFiles.for_spec(spec, "/r"))
    assert argv == [
        "sbatch", "--export=PATH", "--ntasks-per-node=1", "--mem-per-cpu", "3G", "--parsable",
        "--job-name=a", "--array=2-5%1", "--output=/r/exp/q/a-%a.out", "/r/exp/q/a.sh",
    ]
    # one task: a plain job (Slurm starts it at once), its output named as an array task's would be
    spec = parse_command_line(["--max-jobs-run", "1", "JOB=7", "exp/log/b.JOB.log", "true"])
    backend.check(spec)
    argv = backend.submit_command(spec, QueueFiles.for_spec(spec, "/r"))
    assert argv[-4:] == ["--parsable", "--job-name=b", "--output=/r/exp/q/b-7.out", "/r/exp/q/b.sh"]


def test_site_options_of_the_config_reach_sbatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A site's conf/slurm.conf may define options of its own (Kaldi's slurm.pl passes them on).
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf/slurm.conf").write_text(CONF + "option account=* --account=$0\noption qos=* --qos=$0\n")
    monkeypatch.chdir(tmp_path)
    backend = SlurmBackend()
    spec = parse_command_line(["--account", "proj1", "--qos=high", "JOB=1:2", "exp/log/a.JOB.log", "true"], "slurm.pl")
    backend.check(spec)
    argv = backend.submit_command(spec, QueueFiles.for_spec(spec, "/r"))
    assert argv[:6] == ["sbatch", "--export=PATH", "--ntasks-per-node=1", "--account=proj1", "--qos=high", "-p"]
    # an option the config does not define is an error naming the config file
    spec = parse_command_line(["--partition", "x", "l.log", "true"], "slurm.pl")
    with pytest.raises(UsageError, match="option --partition x is not described in config file conf/slurm.conf"):
        backend.check(spec)
    # GridEngine's options mean nothing to sbatch: refused, naming the config file to use instead
    spec = parse_command_line(["-l", "h_vmem=4G", "l.log", "true"], "slurm.pl")
    with pytest.raises(UsageError, match="GridEngine options \\(-l h_vmem=4G\\) mean nothing to Slurm.*conf/slurm.conf"):
        backend.check(spec)


def _env(extra: Dict[str, str] = None) -> Dict[str, str]:
    env = dict(os.environ if extra is None else extra)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return env


def test_config_errors_stop_before_anything_is_submitted(tmp_path: Path) -> None:
    env = _env()
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + "/usr/bin:/bin"  # sbatch or not
    r = subprocess.run([str(SLURM_PL), "--config", "conf/absent.conf", "JOB=1:2", "l.JOB.log", "true"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert r.stderr.startswith("slurm.pl: cannot read config file conf/absent.conf")
    (tmp_path / "x.conf").write_text("command sbatch\noption gpu=* --gres=gpu:$0\n")
    r = subprocess.run([str(SLURM_PL), "--config", "x.conf", "--mem", "2G", "l.log", "true"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "option --mem 2G is not described in config file x.conf" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.conf"]  # no log, no q/


def test_without_sbatch_a_clear_error(tmp_path: Path) -> None:
    env = _env()
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + str(tmp_path)  # no sbatch on PATH
    r = subprocess.run([str(SLURM_PL), "JOB=1:2", "l.JOB.log", "true"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "slurm.pl: cannot run sbatch: command not found (is this a Slurm submit host" in r.stderr
    assert "Not submitted: cannot run sbatch" in read(tmp_path / "l.1.log")


# ---------------------------------------------------------------------------------------------
# A real cluster


@pytest.fixture(scope="session")
def slurm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    reason = unavailable_reason()
    if reason is not None:
        if os.environ.get("ACCENT_REQUIRE_SLURM") == "1":
            pytest.fail(f"ACCENT_REQUIRE_SLURM=1 but {reason}")
        pytest.skip(reason)
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm"))
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def slurm_pl(cluster: SlurmCluster, args: Sequence[str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([str(SLURM_PL), *args], cwd=cwd, env=_env(cluster.env()),
                          capture_output=True, text=True, timeout=timeout)


def test_array_job_substitution_logs_and_q_dir(slurm: SlurmCluster, tmp_path: Path) -> None:
    r = slurm_pl(slurm, ["JOB=1:4", "exp/log/task.JOB.log", "echo", "task", "JOB", "of", "job_JOB", ";",
                         "pwd", ">", "pwd.JOB"], tmp_path)
    assert r.returncode == 0, r.stderr
    for i in (1, 2, 3, 4):
        lines = read(tmp_path / f"exp/log/task.{i}.log").splitlines()
        assert lines[0] == f"# echo task {i} of job_{i} ; pwd > pwd.{i}"
        assert lines[1].startswith("# Started at ")
        assert lines[3] == f"task {i} of job_{i}"
        assert re.fullmatch(r"# Accounting: time=\d+ threads=1", lines[4])
        assert re.fullmatch(r"# Ended \(code 0\) at .+, elapsed time \d+ seconds", lines[5])
        assert read(tmp_path / f"pwd.{i}").strip() == str(tmp_path.resolve())  # ran in the submit dir
    script = read(tmp_path / "exp/q/task.sh")
    assert "# slurm.pl: sbatch " in script and "--array=1-4 " in script and "--job-name=task" in script
    assert "task=${SLURM_ARRAY_TASK_ID:-1}" in script
    assert sorted(p.name for p in (tmp_path / "exp/q").glob("*.out")) == [f"task-{i}.out" for i in (1, 2, 3, 4)]
    assert slurm.jobs() == []


def test_one_failed_task_fails_the_job_and_shows_its_log(slurm: SlurmCluster, tmp_path: Path) -> None:
    cmd = "echo start JOB; touch ran.JOB; if [ JOB = 3 ]; then echo 'reason: bad input in part JOB' >&2; exit 3; fi"
    r = slurm_pl(slurm, ["JOB=1:4", "exp/log/t.JOB.log", cmd], tmp_path)
    assert r.returncode == 1
    assert "slurm.pl: 1 / 4 failed, log is in exp/log/t.3.log" in r.stderr
    assert "reason: bad input in part 3" in r.stderr and "# Ended (code 3)" in r.stderr
    for i in (1, 2, 3, 4):
        assert (tmp_path / f"ran.{i}").exists()
        if i != 3:
            assert "# Ended (code 0)" in read(tmp_path / f"exp/log/t.{i}.log")


def test_gpu_on_a_cluster_without_gpus_fails_at_once(slurm: SlurmCluster, tmp_path: Path) -> None:
    start = time.monotonic()
    r = slurm_pl(slurm, ["--gpu", "1", "JOB=1:2", "log/g.JOB.log", "touch ran.JOB"], tmp_path)
    assert time.monotonic() - start < 15
    assert r.returncode == 1
    assert "slurm.pl: sbatch refused the job (exit status 1)" in r.stderr
    assert "Requested node configuration is not available" in r.stderr
    assert "--gres=gpu:1" in r.stderr  # the command line is shown
    assert not list(tmp_path.glob("ran.*"))
    assert slurm.jobs() == []


STAMP = "s=$(date +%s.%N); sleep 0.5; echo $s $(date +%s.%N) > t.JOB"


def test_max_jobs_run_throttles_the_array(slurm: SlurmCluster, tmp_path: Path) -> None:
    # two tasks on two CPUs would overlap without the throttle
    r = slurm_pl(slurm, ["--max-jobs-run", "1", "JOB=1:2", "log/s.JOB.log", STAMP], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "--array=1-2%1 " in read(tmp_path / "q/s.sh")
    intervals = sorted(tuple(float(x) for x in read(tmp_path / f"t.{i}").split()) for i in (1, 2))
    assert all(b[0] >= a[1] for a, b in zip(intervals, intervals[1:])), intervals



def test_sigterm_cancels_the_job(slurm: SlurmCluster, tmp_path: Path) -> None:
    cmd = "sleep 60 & echo $! > pid.JOB; wait"
    proc = subprocess.Popen(
        [str(SLURM_PL), "--max-jobs-run", "2", "JOB=1:4", "log/k.JOB.log", cmd],
        cwd=tmp_path, env=_env(slurm.env()), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        pid_files = [tmp_path / "pid.1", tmp_path / "pid.2"]
        assert wait_for(lambda: all(p.exists() and p.read_text().strip() for p in pid_files), 30)
        pids = [int(p.read_text()) for p in pid_files]
        assert len(slurm.jobs()) == 4  # 2 running, 2 pending
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=40)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signal.SIGTERM
    assert "slurm.pl: stopped by SIGTERM: killed 2 running task(s), 2 not started" in stderr
    assert slurm.jobs() == []
    assert wait_for(lambda: not any(process_alive(pid) for pid in pids), 10)
    assert not (tmp_path / "pid.3").exists() and not (tmp_path / "pid.4").exists()
    for i in (1, 2):  # the node side wrote the footer when Slurm signalled the task
        assert re.search(r"# Ended \(code \d+(; signal \d+)?\) at ", read(tmp_path / f"log/k.{i}.log"))


def test_job_is_cancelled_when_the_script_that_submitted_it_is_killed(slurm: SlurmCluster, tmp_path: Path) -> None:
    # kill -9 of run.sh: its slurm.pl gets SIGHUP from the kernel and cancels the job, as on Ctrl-C.
    script = tmp_path / "recipe.sh"
    script.write_text("#!/bin/bash\n\"$@\"\necho unreachable\n")
    script.chmod(0o755)
    proc = subprocess.Popen(
        [str(script), str(SLURM_PL), "JOB=1:2", "log/k.JOB.log", "sleep 60 & echo $! > pid.JOB; wait"],
        cwd=tmp_path, env=_env(slurm.env()), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        pid_files = [tmp_path / "pid.1", tmp_path / "pid.2"]
        assert wait_for(lambda: all(p.exists() and p.read_text().strip() for p in pid_files), 30)
        pids = [int(p.read_text()) for p in pid_files]
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert wait_for(lambda: slurm.jobs() == [], 40)
        assert wait_for(lambda: not any(process_alive(pid) for pid in pids), 10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_tasks_cancelled_before_they_ran_count_as_failed(slurm: SlurmCluster, tmp_path: Path) -> None:
    # Task 1 cancels the whole array (as a user's scancel would) while tasks 2 and 3 are pending.
    # (X as the job variable: JOB or I would be replaced inside $SLURM_ARRAY_JOB_ID too, as in Kaldi)
    cmd = "if [ X = 1 ]; then scancel $SLURM_ARRAY_JOB_ID; sleep 30; fi"
    r = slurm_pl(slurm, ["--max-jobs-run", "1", "X=1:3", "log/c.X.log", cmd], tmp_path)
    assert r.returncode == 1
    assert "slurm.pl: task 2 of job " in r.stderr and "ended without an exit status" in r.stderr
    assert "slurm.pl: 3 / 3 failed, log is in log/c.1.log" in r.stderr
    for i in (2, 3):
        text = read(tmp_path / f"log/c.{i}.log")
        assert "ended without an exit status" in text and "# Ended (code 1)" in text
    assert slurm.jobs() == []


# ---------------------------------------------------------------------------------------------
# The recipe's feature stage through Slurm


def test_recipe_stage_2_through_slurm(slurm: SlurmCluster, tmp_path: Path) -> None:
    aesrc = make_aesrc(tmp_path / "aesrc", {"US": ["G00007", "G00008"], "UK": ["G00025", "G00026"]})
    (tmp_path / "dev.list").write_text("US G00008\nUK G00026\n")
    libri = make_librispeech(tmp_path / "LibriSpeech", "train-clean-100", utts=2)
    make_librispeech(libri, "dev-clean", speakers=(84,), utts=2)
    recipe = recipe_copy(tmp_path)
    args = ["--aesrc-root", str(aesrc), "--dev-spk-list", str(tmp_path / "dev.list"),
            "--librispeech-root", str(libri), "--nj", "2"]
    env = slurm.env()
    env["cmd_backend"] = "local"
    r = subprocess.run(["./run.sh", "--stage", "1", "--stop-stage", "1", *args], cwd=recipe, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    env["cmd_backend"] = "slurm"
    r = subprocess.run(["./run.sh", "--stage", "2", "--stop-stage", "2", *args], cwd=recipe, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    for x in ("train", "dev", "libri_train", "libri_dev"):
        assert (recipe / f"data/{x}/feats.scp").stat().st_size > 0
    script = read(recipe / "exp/make_fbank/train/q/make_fbank_train.sh")
    assert "# slurm.pl: sbatch " in script and "--array=1-2 " in script and " -p cpu " in script
    assert "# Ended (code 0)" in read(recipe / "exp/make_fbank/train/make_fbank_train.2.log")
    assert (recipe / "data/train/cmvn.ark").exists()
    assert (recipe / "exp/make_fbank/train/q/compute_cmvn_stats.sh").exists()
    assert slurm.jobs() == []


# A cluster without GPUs: --gpu N asks for N tasks (CPU processes, gloo) on each node.
DDP_CONF = """\
command sbatch --export=PATH --ntasks-per-node=1
option gpu=0
option gpu=* --ntasks-per-node=$0
option num_nodes=* --nodes=$0
"""


def test_two_task_ddp_training_through_slurm(slurm: SlurmCluster, tmp_path: Path) -> None:
    import yaml

    from accent.training import load_model

    corpus = make_corpus(tmp_path / "c", spk_per_accent=1, utts_per_spk=2, dev_utts=1)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(ddp_config()))
    (tmp_path / "slurm.conf").write_text(DDP_CONF)
    train = ["python", "-m", "accent.bin.train", "--device", "cpu", "--num-threads", "1", "--config", "c.yaml",
             "--train-data", str(corpus["train"]), "--dev-data", str(corpus["dev"]), "--exp-dir", "exp/ddp"]
    r = slurm_pl(slurm, ["--config", "slurm.conf", "--gpu", "2", "exp/ddp/log/train.log",
                         "python", "-m", "accent.bin.launch", "--ngpu", "2", "--", *train], tmp_path, timeout=300)
    log = read(tmp_path / "exp/ddp/log/train.log")
    assert r.returncode == 0, r.stderr + log
    assert "--ntasks-per-node=1 --ntasks-per-node=2 " in read(tmp_path / "exp/ddp/q/train.sh")
    # the batch script (one process) started the two tasks with srun; they found each other
    assert "accent.bin.launch: srun --ntasks=2 --nodes=1 --kill-on-bad-exit=1 python -m accent.bin.train" in log
    assert "rank 0 of 2 (launcher slurm, gloo backend) on cpu" in log
    assert "distributed data-parallel: world size 2 (gloo backend)" in log
    assert log.count("epoch 1/1 train loss") == 1 and "# Ended (code 0)" in log
    _, ckpt = load_model(tmp_path / "exp/ddp/best.pt")
    assert ckpt["world_size"] == 2 and ckpt["history"][0]["train_utts"] == 6
    assert (tmp_path / "exp/ddp/.done").is_file()
    assert slurm.jobs() == []


def test_parse_squeue() -> None:
    from accent.jobs.slurm import parse_squeue

    assert parse_squeue("").tasks is None  # no longer listed: ended
    assert parse_squeue("1 R\n2 CG\n3 PD\n").tasks == {1: "running", 2: "running", 3: "pending"}
    assert parse_squeue("[4-6%1] PD\n").tasks == {4: "pending", 5: "pending", 6: "pending"}
    assert parse_squeue("N/A R\n", plain_job_index=7).tasks == {7: "running"}  # not an array
    assert parse_squeue("garbage\n").tasks == {}  # listed, though not understood: still there


def test_a_plain_job_is_seen_while_it_runs(
    slurm: SlurmCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # slurm.pl submits a single task without --array: squeue shows N/A as its array index
    monkeypatch.setenv("SLURM_CONF", str(slurm.conf))
    monkeypatch.chdir(tmp_path)
    spec = parse_command_line(["JOB=3", "l.JOB.log", "sleep 30"])
    backend = SlurmBackend()
    backend.check(spec)
    argv = backend.submit_command(spec, QueueFiles.for_spec(spec, str(tmp_path)))
    assert not any(a.startswith("--array") for a in argv)
    job_id = slurm.run("sbatch", "--parsable", f"--output={tmp_path}/o", "--wrap", "sleep 30").stdout.strip()
    try:
        state = backend.query(job_id)
    finally:
        slurm.run("scancel", job_id)
    assert state is not None and state.tasks in ({3: "running"}, {3: "pending"})
