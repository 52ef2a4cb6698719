"""utils/run.pl (accent.jobs, local backend) and utils/parse_options.sh, with real processes.

Every test runs the scripts as a recipe would: ``run.pl`` by path with the venv's ``python``
first on PATH, ``parse_options.sh`` sourced from a small bash script.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import pytest

from accent.jobs.backend import node_command
from accent.jobs.spec import UsageError, parse_command_line, quote_command
from conftest import process_alive, wait_for

ROOT = Path(__file__).resolve().parents[1]

RUN_PL = ROOT / "utils" / "run.pl"
PARSE_OPTIONS = ROOT / "utils" / "parse_options.sh"


def _env() -> Dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env.pop("ACCENT_PYTHON", None)
    return env


def _default_stop_signals() -> None:
    """preexec_fn: the stop signals at their defaults, as in a terminal. A suite started under
    nohup or in a shell's background inherits SIGHUP or SIGINT ignored, and the runner rightly
    keeps an ignored signal ignored, which would fail the tests that send it."""
    for signum in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)


def run_pl(
    args: Sequence[str], cwd: Path, run_pl: Path = RUN_PL, timeout: float = 30
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(run_pl), *args], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout
    )


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# JOB ranges, substitution, log format


def test_job_substitution_header_and_footer(tmp_path: Path) -> None:
    r = run_pl(["JOB=1:3", "exp/log/task.JOB.log", "echo", "task", "JOB", "of", "job_JOB"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    for i in (1, 2, 3):
        lines = read(tmp_path / f"exp/log/task.{i}.log").splitlines()
        assert lines[0] == f"# echo task {i} of job_{i}"
        assert lines[1].startswith("# Started at ")
        assert lines[2] == "#"
        assert lines[3] == f"task {i} of job_{i}"
        assert re.fullmatch(r"# Accounting: time=\d+ threads=1", lines[4])
        assert re.fullmatch(r"# Ended \(code 0\) at .+, elapsed time \d+ seconds", lines[5])
    assert not (tmp_path / "exp/log/task.JOB.log").exists()


def test_any_variable_name_and_single_index(tmp_path: Path) -> None:
    r = run_pl(["SPLIT=2:3", "log/x.SPLIT.log", "echo part SPLIT"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "log").iterdir()) == ["x.2.log", "x.3.log"]
    assert "part 3" in read(tmp_path / "log/x.3.log")

    r = run_pl(["JOB=5", "log/y.JOB.log", "echo", "only", "JOB"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "\nonly 5\n" in read(tmp_path / "log/y.5.log")


def test_single_job_without_range(tmp_path: Path) -> None:
    r = run_pl(["single.log", "echo", "hello", "JOB"], tmp_path)  # no range: JOB stays as is
    assert r.returncode == 0, r.stderr
    text = read(tmp_path / "single.log")
    assert text.startswith("# echo hello JOB\n# Started at ")
    assert "\nhello JOB\n" in text
    assert "# Ended (code 0)" in text


def test_stdout_and_stderr_both_logged(tmp_path: Path) -> None:
    r = run_pl(["l.log", "echo to-out; echo to-err >&2"], tmp_path)
    assert r.returncode == 0
    text = read(tmp_path / "l.log")
    assert "to-out\n" in text and "to-err\n" in text


def test_options_accepted_and_interleaved_with_range(tmp_path: Path) -> None:
    r = run_pl(
        ["--mem", "4G", "--gpu", "1", "--num-threads", "2", "--time", "4:00:00",
         "--config", "conf/absent.conf", "JOB=1:2", "-tc", "2", "log/o.JOB.log", "echo", "ok"],
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert re.search(r"\n# Accounting: time=\d+ threads=2\n", read(tmp_path / "log/o.2.log"))


def test_command_options_are_not_taken_as_run_pl_options(tmp_path: Path) -> None:
    r = run_pl(["l.log", "echo", "--mem", "--help", "-tc"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "\n--mem --help -tc\n" in read(tmp_path / "l.log")


def test_symlinked_utils_dir_finds_the_package(tmp_path: Path) -> None:
    # Kaldi-style recipes reach the scripts through egs/<corpus>/utils -> ../../utils.
    recipe = tmp_path / "egs" / "x"
    recipe.mkdir(parents=True)
    (recipe / "utils").symlink_to(ROOT / "utils")
    r = run_pl(["l.log", "echo", "via-link"], recipe, run_pl=recipe / "utils" / "run.pl")
    assert r.returncode == 0, r.stderr
    assert "via-link" in read(recipe / "l.log")


def test_kaldi_queue_options_are_accepted_and_ignored(tmp_path: Path) -> None:
    # What a Kaldi user's cmd.sh passes to run.pl: GridEngine and site options, all ignored as Kaldi's run.pl does.
    r = run_pl(["-l", "arch=*64*", "-pe", "smp", "4", "-V", "-q", "all.q", "--bogus", "1", "-sync", "y",
                "--max-jobs-run", "2", "JOB=1:2", "log/o.JOB.log", "echo", "ok"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert "\nok\n" in read(tmp_path / "log/o.2.log")
    spec = parse_command_line(["-pe", "smp", "4", "-V", "--account", "a", "l.log", "true"])
    assert spec.options.native == [["-pe", "smp", "4"], ["-V"]]
    assert spec.options.given == [("--account", "a")]


def test_runner_works_without_python_on_path(tmp_path: Path) -> None:
    # A Kaldi recipe's PATH has no python of ours: the wrapper finds the toolkit's interpreter itself.
    no_python = tmp_path / "bin"  # the shells and nothing else
    no_python.mkdir()
    for tool in ("sh", "bash"):
        (no_python / tool).symlink_to(subprocess.run(["bash", "-c", f"command -v {tool}"], capture_output=True,
                                                     text=True).stdout.strip())
    env = {"PATH": str(no_python), "HOME": str(tmp_path)}
    r = subprocess.run([str(RUN_PL), "l.log", "echo", "found"], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert "\nfound\n" in read(tmp_path / "l.log")
    # $ACCENT_PYTHON picks the interpreter; a wrong one fails with a message saying what to set
    env["ACCENT_PYTHON"] = str(tmp_path / "nonexistent-python")
    r = subprocess.run([str(RUN_PL), "l2.log", "true"], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 127
    assert "run.pl: no Python for the accent toolkit" in r.stderr and "ACCENT_PYTHON" in r.stderr


def test_log_dates_are_written_as_date_prints_them(tmp_path: Path) -> None:
    r = run_pl(["l.log", "date"], tmp_path)
    assert r.returncode == 0, r.stderr
    lines = read(tmp_path / "l.log").splitlines()
    started = lines[1][len("# Started at "):]
    printed = lines[3]
    # same format: day of month padded with a space ("Dec  1"), as date(1) does; equal unless a
    # second boundary passed in between
    assert re.fullmatch(r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \w+ \d{4}", started), started
    assert started[:10] == printed[:10]
    assert subprocess.run(["date", "-d", "2026-12-01", "+%a %b %e"], capture_output=True, text=True).stdout.strip() \
        == time.strftime("%a %b %e", time.strptime("2026-12-01", "%Y-%m-%d"))
    from accent.jobs.logs import now_string
    assert now_string()[8] != "0"  # never "Dec 01"


# ---------------------------------------------------------------------------------------------
# Quoting


def test_quoting_of_arguments_with_spaces_and_escaped_pipe(tmp_path: Path) -> None:
    # As in Kaldi: `\|` reaches the job's shell as a pipe, arguments with spaces stay one argument.
    # Arguments with quotes or backslashes are kept as they are too (Kaldi would break them).
    args = ["printf", "[%s]\\n", "a  b", "it's", "cost $5 `x`", "", "x\\ty", '"q"', "|", "tr", "a-z", "A-Z"]
    r = run_pl(["q.log", *args], tmp_path)
    assert r.returncode == 0, read(tmp_path / "q.log")
    body = read(tmp_path / "q.log").splitlines()[3:-2]
    assert body == ["[A  B]", "[IT'S]", "[COST $5 `X`]", "[]", "[X\\TY]", '["Q"]']


def test_arguments_are_never_run_by_the_shell(tmp_path: Path) -> None:
    # Command substitution, variables, globs, ; and parentheses in a value stay the value.
    args = ["printf", "[%s]\\n", "n$(touch${IFS}PWNED)", "`touch PWNED2`", "$HOME", "*", "a;touch PWNED3",
            "/data/AESRC(2020)"]
    r = run_pl(["q.log", *args], tmp_path)
    assert r.returncode == 0, read(tmp_path / "q.log")
    assert not any((tmp_path / name).exists() for name in ("PWNED", "PWNED2", "PWNED3"))
    body = read(tmp_path / "q.log").splitlines()[3:-2]
    assert body == ["[n$(touch${IFS}PWNED)]", "[`touch PWNED2`]", "[$HOME]", "[*]", "[a;touch PWNED3]",
                    "[/data/AESRC(2020)]"]


def test_single_argument_is_a_whole_command_line(tmp_path: Path) -> None:
    r = run_pl(["JOB=1:2", "p.JOB.log", "echo job JOB | tr a-z A-Z && echo second"], tmp_path)
    assert r.returncode == 0
    assert read(tmp_path / "p.2.log").splitlines()[3:5] == ["JOB 2", "second"]


def test_redirection_and_substitution_in_output_paths(tmp_path: Path) -> None:
    r = run_pl(["JOB=1:2", "log/r.JOB.log", "echo", "data JOB", ">", "out.JOB.txt"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert read(tmp_path / "out.2.txt") == "data 2\n"


def test_quote_command_rule() -> None:
    assert quote_command(["a | b"]) == "a | b"
    assert quote_command(["echo", "a b", "|", "wc"]) == "echo 'a b' | wc"
    assert quote_command(["echo", "it's here"]) == "echo 'it'\\''s here'"
    assert quote_command(["echo", ""]) == "echo ''"
    assert quote_command(["a", "x\\y", '"', "ark:-", "2>&1", "$X"]) == "a 'x\\y' '\"' ark:- 2>&1 '$X'"
    # only plain words and shell operators on their own are left unquoted
    assert quote_command(["ls", "/data/AESRC(2020)", "ark,t:-", "a=b", "|", "wc", ">", "o.txt"]) == \
        "ls '/data/AESRC(2020)' ark,t:- a=b | wc > o.txt"
    assert quote_command(["a", "2>/dev/null", ">o.txt", ">$(x)"]) == "a 2>/dev/null >o.txt '>$(x)'"


# ---------------------------------------------------------------------------------------------
# Failures


def test_one_failed_task_fails_the_job_and_shows_its_log(tmp_path: Path) -> None:
    cmd = "echo start JOB; touch ran.JOB; if [ JOB = 3 ]; then echo 'reason: bad input in part JOB' >&2; exit 3; fi"
    r = run_pl(["JOB=1:4", "exp/log/t.JOB.log", cmd], tmp_path)
    assert r.returncode != 0
    assert "run.pl: 1 / 4 failed, log is in exp/log/t.3.log" in r.stderr
    assert "reason: bad input in part 3" in r.stderr  # the tail of the failed log
    assert "# Ended (code 3)" in r.stderr
    for i in (1, 2, 3, 4):
        assert (tmp_path / f"ran.{i}").exists()
    assert "# Ended (code 0)" in read(tmp_path / "exp/log/t.4.log")
    assert "# Ended (code 3)" in read(tmp_path / "exp/log/t.3.log")


def test_first_failed_log_is_named_and_tail_is_limited(tmp_path: Path) -> None:
    cmd = "seq 1 100; [ JOB = 1 ]"
    r = run_pl(["JOB=1:3", "t.JOB.log", cmd], tmp_path)
    assert r.returncode == 1
    assert "run.pl: 2 / 3 failed, log is in t.2.log" in r.stderr
    shown = [line for line in r.stderr.splitlines() if line.startswith("  ")]
    assert 10 <= len(shown) <= 25
    assert "  100" in shown and "  50" not in shown


def test_crashed_command_still_gets_footer(tmp_path: Path) -> None:
    r = run_pl(["c.log", "echo before; kill -9 $$"], tmp_path)
    assert r.returncode == 1
    text = read(tmp_path / "c.log")
    assert "before\n" in text
    assert "# Ended (code 137; signal 9)" in text


def test_forgotten_range_hint(tmp_path: Path) -> None:
    r = run_pl(["x.JOB.log", "false"], tmp_path)
    assert r.returncode == 1
    assert "log is in x.JOB.log" in r.stderr
    assert "forgot to put JOB=1:$nj" in r.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--max-jobs-run", "0", "l.log", "true"], "invalid value '0' for --max-jobs-run"),
        (["--num-threads", "two", "l.log", "true"], "invalid value 'two' for --num-threads"),
        (["JOB=1:", "l.JOB.log", "true"], "invalid job range 'JOB=1:'"),
        (["JOB=3:1", "l.JOB.log", "true"], "invalid job range JOB=3:1"),
        (["JOB=0:2", "l.JOB.log", "true"], "start must be 1 or more"),
        (["JOB=1:2", "l.log", "true"], "just one log file"),
        (["l.log"], "expected a command after the log file"),
        ([], "expected a log file and a command"),
        (["--mem"], "option --mem needs a value"),
    ],
)
def test_invalid_command_lines(tmp_path: Path, args: List[str], message: str) -> None:
    r = run_pl(args, tmp_path)
    assert r.returncode == 1
    assert r.stderr.startswith("run.pl: ")
    assert message in r.stderr
    assert list(tmp_path.iterdir()) == []  # nothing ran, no log written


def test_help(tmp_path: Path) -> None:
    r = run_pl(["--help"], tmp_path)
    assert r.returncode == 0
    assert "JOB=1:N" in r.stdout


def test_parse_command_line_in_process() -> None:
    spec = parse_command_line(["-tc", "3", "JOB=2:4", "--gpu", "1", "l.JOB.log", "a", "JOB"])
    assert (spec.job_name, spec.start, spec.end, spec.options.max_jobs_run, spec.options.gpu) == ("JOB", 2, 4, 3, 1)
    assert [(t.index, t.log_path, t.command) for t in spec.tasks()] == [
        (2, "l.2.log", "a 2"), (3, "l.3.log", "a 3"), (4, "l.4.log", "a 4")
    ]
    with pytest.raises(UsageError):
        parse_command_line(["JOB=1:2", "JOB=1:2", "l.JOB.log", "a"])


# ---------------------------------------------------------------------------------------------
# Concurrency and stopping


def _intervals(tmp_path: Path, n: int) -> List[Tuple[float, float]]:
    result = []
    for i in range(1, n + 1):
        start, end = (float(x) for x in read(tmp_path / f"t.{i}").split())
        result.append((start, end))
    return result


def _overlaps(intervals: List[Tuple[float, float]]) -> bool:
    ordered = sorted(intervals)
    return any(b[0] < a[1] for a, b in zip(ordered, ordered[1:]))


STAMP = "s=$(date +%s.%N); sleep 0.3; echo $s $(date +%s.%N) > t.JOB"


def test_max_jobs_run_1_serialises(tmp_path: Path) -> None:
    r = run_pl(["--max-jobs-run", "1", "JOB=1:4", "log/s.JOB.log", STAMP], tmp_path)
    assert r.returncode == 0, r.stderr
    assert not _overlaps(_intervals(tmp_path, 4))


def test_tasks_run_in_parallel_up_to_the_limit(tmp_path: Path) -> None:
    r = run_pl(["--max-jobs-run", "4", "JOB=1:4", "log/s.JOB.log", STAMP], tmp_path)
    assert r.returncode == 0, r.stderr
    assert _overlaps(_intervals(tmp_path, 4))



@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc to check processes")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_kills_running_tasks(tmp_path: Path, signum: int) -> None:
    # Each task leaves a background grandchild: stopping must reach the whole process group.
    cmd = "sleep 60 & echo $! > pid.JOB; wait"
    proc = subprocess.Popen(
        [str(RUN_PL), "--max-jobs-run", "2", "JOB=1:3", "log/k.JOB.log", cmd],
        cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=_default_stop_signals,
    )
    try:
        pid_files = [tmp_path / "pid.1", tmp_path / "pid.2"]
        assert wait_for(lambda: all(p.exists() and p.read_text().strip() for p in pid_files), 10)
        pids = [int(p.read_text()) for p in pid_files]
        assert all(process_alive(pid) for pid in pids)
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signum
    assert f"stopped by {signal.Signals(signum).name}" in stderr
    assert wait_for(lambda: not any(process_alive(pid) for pid in pids), 5)
    assert not (tmp_path / "pid.3").exists()  # the third task never started
    for i in (1, 2):
        text = read(tmp_path / f"log/k.{i}.log")
        assert f"# Killed: the job runner received {signal.Signals(signum).name}" in text
        assert re.search(r"# Ended \(code \d+(; signal \d+)?\) at ", text)


def _start_tasks_leaving_grandchildren(tmp_path: Path, argv_prefix: Sequence[str] = ()) -> Tuple[subprocess.Popen, List[int]]:
    cmd = "sleep 60 & echo $! > pid.JOB; wait"
    proc = subprocess.Popen(
        [*argv_prefix, str(RUN_PL), "JOB=1:2", "log/k.JOB.log", cmd],
        cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # its own process group, as a recipe started from a terminal
        preexec_fn=_default_stop_signals,
    )
    pid_files = [tmp_path / "pid.1", tmp_path / "pid.2"]
    assert wait_for(lambda: all(p.exists() and p.read_text().strip() for p in pid_files), 10)
    pids = [int(p.read_text()) for p in pid_files]
    assert all(process_alive(pid) for pid in pids)
    return proc, pids


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc to check processes")
def test_sigkill_of_the_runner_and_its_group_stops_its_tasks(tmp_path: Path) -> None:
    # kill -9 runs no handler; the tasks are in sessions of their own, so a kill of the runner's
    # process group does not reach them either: the runner's watchdog stops them.
    proc, pids = _start_tasks_leaving_grandchildren(tmp_path)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=15)
        assert wait_for(lambda: not any(process_alive(pid) for pid in pids), 10)
    finally:
        for pid in pids:
            if process_alive(pid):
                os.kill(pid, signal.SIGKILL)
    for i in (1, 2):
        assert f"# Killed: the job runner (pid {proc.pid}) died" in read(tmp_path / f"log/k.{i}.log")


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc to check processes")
def test_runner_stops_its_tasks_when_the_script_that_started_it_dies(tmp_path: Path) -> None:
    # kill -9 of run.sh alone: its run.pl gets SIGHUP from the kernel and stops its tasks.
    script = tmp_path / "recipe.sh"
    script.write_text("#!/bin/bash\n\"$@\"\necho unreachable\n")
    script.chmod(0o755)
    proc, pids = _start_tasks_leaving_grandchildren(tmp_path, [str(script)])
    try:
        os.kill(proc.pid, signal.SIGKILL)  # the script only, not its group
        proc.communicate(timeout=15)
        assert wait_for(lambda: not any(process_alive(pid) for pid in pids), 10)
    finally:
        for pid in pids:
            if process_alive(pid):
                os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: "# Ended" in read(tmp_path / "log/k.2.log"), 10)
    assert "# Killed: the job runner received SIGHUP" in read(tmp_path / "log/k.1.log")


def test_finished_runner_leaves_no_watchdog(tmp_path: Path) -> None:
    r = run_pl(["JOB=1:3", "log/w.JOB.log", "echo $PPID > ppid.JOB"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    for i in (1, 2, 3):
        assert "# Killed" not in read(tmp_path / f"log/w.{i}.log")


# ---------------------------------------------------------------------------------------------
# parse_options.sh


SCRIPT = """\
set -euo pipefail
stage=0
stop_stage=100
foo_bar=default
use_gpu=false
nj=4
help_message="Usage: $0 [options] <data-dir>\\n  --stage N   first stage"
. {parse_options}
echo "stage=$stage stop_stage=$stop_stage foo_bar=$foo_bar use_gpu=$use_gpu nj=$nj"
echo "args=$#:$*"
set | grep -c '^_po_' || true
"""


def parse_options(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    script = tmp_path / "script.sh"
    script.write_text(SCRIPT.format(parse_options=PARSE_OPTIONS))
    return subprocess.run(
        ["bash", str(script), *args], cwd=tmp_path, capture_output=True, text=True, timeout=10
    )


def test_parse_options_sets_variables_and_keeps_positionals(tmp_path: Path) -> None:
    r = parse_options(tmp_path, "--stage", "3", "--stop-stage", "4", "data/train", "--nj", "8")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "stage=3 stop_stage=4 foo_bar=default use_gpu=false nj=4"
    assert lines[1] == "args=3:data/train --nj 8"  # stops at the first non-option
    assert lines[2] == "0"  # no helper variables left behind


def test_parse_options_dashes_to_underscores_and_verbatim_values(tmp_path: Path) -> None:
    r = parse_options(tmp_path, "--foo-bar", "x", "--use-gpu", "true", "d")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "stage=0 stop_stage=100 foo_bar=x use_gpu=true nj=4"
    r = parse_options(tmp_path, "--foo-bar", "a 'b' \"c\" $HOME `x`", "d")
    assert r.returncode == 0, r.stderr
    assert "foo_bar=a 'b' \"c\" $HOME `x` use_gpu" in r.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--foo-baz", "x"], "invalid option --foo-baz"),
        (["--use-gpu", "yes"], 'expected "true" or "false": --use-gpu yes'),
        (["--stage"], "option --stage needs a value"),
        (["--stage=3"], "must be of the form --name value"),
        (["--config", "missing.conf"], "missing config 'missing.conf'"),
    ],
)
def test_parse_options_errors(tmp_path: Path, args: List[str], message: str) -> None:
    r = parse_options(tmp_path, *args)
    assert r.returncode == 1
    assert message in r.stderr
    assert r.stdout == ""


def test_parse_options_config_file(tmp_path: Path) -> None:
    (tmp_path / "x.conf").write_text("stage=7\nfoo_bar='from config'\nnj=2\n")
    # The command line wins over the config, wherever --config is.
    r = parse_options(tmp_path, "--nj", "6", "--config", "x.conf", "d")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[:2] == ["stage=7 stop_stage=100 foo_bar=from config use_gpu=false nj=6", "args=1:d"]


def test_parse_options_help(tmp_path: Path) -> None:
    r = parse_options(tmp_path, "--help")
    assert r.returncode == 0
    assert r.stdout == ""
    assert "--stage N   first stage" in r.stderr and "Usage: " in r.stderr


# ---------------------------------------------------------------------------------------------
# The node side of cluster backends: python -m accent.jobs exec


def test_exec_runs_one_task_of_a_spec(tmp_path: Path) -> None:
    spec = parse_command_line(["--num-threads", "3", "JOB=1:4", "log/e.JOB.log", "echo", "part JOB", ";", "exit", "JOB"])
    (tmp_path / "spec.json").write_text(spec.to_json())
    # What a batch script would hold, with the index coming from the scheduler's variable.
    command = node_command(str(tmp_path / "spec.json"), '"$TASK_ID"', status_file=str(tmp_path / "done.2"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TASK_ID"] = "2"
    r = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, r.stderr
    assert read(tmp_path / "done.2") == "2\n"
    text = read(tmp_path / "log/e.2.log")
    assert text.startswith("# echo 'part 2' ; exit 2\n")
    assert "\npart 2\n# Accounting: time=" in text and "threads=3" in text
    assert "# Ended (code 2)" in text
    assert not (tmp_path / "log/e.1.log").exists()


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc to check processes")
def test_exec_stopped_by_sigterm_still_writes_footer(tmp_path: Path) -> None:
    # What a scheduler's cancel (or time limit) does to a task on a node.
    spec = parse_command_line(["log.JOB", "sleep 60 & echo $! > pid; wait"])
    (tmp_path / "spec.json").write_text(spec.to_json())
    proc = subprocess.Popen(["bash", "-c", "exec " + node_command(str(tmp_path / "spec.json"), "1")], cwd=tmp_path)
    try:
        assert wait_for(lambda: (tmp_path / "pid").exists() and (tmp_path / "pid").read_text().strip() != "", 10)
        sleeper = int((tmp_path / "pid").read_text())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert wait_for(lambda: not process_alive(sleeper), 5)
    text = read(tmp_path / "log.JOB")
    assert "# Killed: the job runner received SIGTERM" in text and "# Ended (code " in text


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
def test_ignored_sighup_stays_ignored(tmp_path: Path) -> None:
    # `nohup run.pl ...` must outlive a logout.
    proc = subprocess.Popen(
        [str(RUN_PL), "h.log", "sleep 1; echo survived"], cwd=tmp_path, env=_env(),
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),
    )
    assert wait_for(lambda: (tmp_path / "h.log").exists(), 10)
    time.sleep(0.2)
    proc.send_signal(signal.SIGHUP)
    assert proc.wait(timeout=15) == 0
    assert "survived" in read(tmp_path / "h.log")
