"""A real single-node Slurm cluster for the tests: munged, slurmctld and slurmd on this machine.

Everything Slurm writes (slurm.conf, state, spool, logs) lives in a directory the caller owns;
the daemons are started in the foreground (``-D``), in their own sessions, and stopped by the
PIDs recorded here.  Client commands find the cluster through ``SLURM_CONF``: use
:meth:`SlurmCluster.env` for every process that talks to it.

The controller and the node are both ``localhost`` (127.0.0.1), so no DNS is needed; ports are
picked free.  There are no cgroups in a container, hence ``proctrack/linuxproc`` and
``task/none`` (``--mem`` is then recorded but not enforced).  Two partitions, ``cpu`` (the
default) and ``gpu``, hold the one node, which has no GPU: a ``--gres=gpu:1`` request is refused
at submission ("Requested node configuration is not available"), as on a cluster where no node
has one.

Needs the Debian packages ``slurmctld slurmd slurm-client munge`` (``.ci/install_slurm.sh``)
and root (slurmd runs jobs as their user; munged runs as ``munge``).  :func:`unavailable_reason`
says why a cluster cannot be started here, for a test skip.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Dict, List, Optional

DAEMONS = ("slurmctld", "slurmd", "munged", "sbatch", "squeue", "scancel", "sinfo", "munge", "unmunge")
MUNGE_KEY = Path("/etc/munge/munge.key")
MUNGE_RUN_DIR = Path("/run/munge")
INSTALL_HINT = "run `bash .ci/install_slurm.sh` as root (Debian packages slurmctld slurmd slurm-client munge)"

CONF_TEMPLATE = """\
# A single-node test cluster written by tests/slurm_cluster.py
ClusterName=accenttest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
SlurmctldPidFile={dir}/slurmctld.pid
SlurmdPidFile={dir}/slurmd.pid
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool
SlurmctldLogFile={dir}/slurmctld.log
SlurmdLogFile={dir}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# Schedule at once: "defer" would turn deferral ON (substring match)
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
DependencyParameters=kill_invalid_depend
# Forget ended jobs soon, or sbatch --wait backs off to 32 s polls
MinJobAge=5
KillWait=10
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
GresTypes=gpu
NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} State=UNKNOWN
PartitionName=cpu Nodes=localhost Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=localhost MaxTime=INFINITE State=UP
"""


def unavailable_reason() -> Optional[str]:
    """Why a test cluster cannot be started here (None: it can be tried)."""
    missing = [p for p in DAEMONS if shutil.which(p, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is None]
    if missing:
        return f"Slurm is not installed ({', '.join(missing)} not found): {INSTALL_HINT}"
    if os.geteuid() != 0:
        return "starting a test Slurm cluster (slurmd, munged) needs root"
    try:
        pwd.getpwnam("munge")
    except KeyError:
        return f"there is no 'munge' user: {INSTALL_HINT}"
    return None


def _which(name: str) -> str:
    found = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if found is None:
        raise RuntimeError(f"{name} not found: {INSTALL_HINT}")
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _memory_mb() -> int:
    """A little less than the memory slurmd will find, or the node is drained as INVALID."""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return max(100, int(int(line.split()[1]) / 1024 * 0.9))
    return 1000  # pragma: no cover


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class SlurmCluster:
    def __init__(self, workdir: Path) -> None:
        self.dir = Path(workdir).resolve()
        self.conf = self.dir / "slurm.conf"
        self.procs: Dict[str, subprocess.Popen] = {}

    # -- environment for clients ----------------------------------------------------------

    def env(self, base: Optional[Dict[str, str]] = None) -> Dict[str, str]:
        env = dict(os.environ if base is None else base)
        env["SLURM_CONF"] = str(self.conf)
        return env

    def run(self, *args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        """Run a Slurm client command (squeue, scontrol ...) against this cluster."""
        r = subprocess.run(list(args), env=self.env(), capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
        return r

    def jobs(self) -> List[str]:
        """The jobs Slurm still lists (pending, running, completing), as 'id state' lines."""
        return self.run("squeue", "--noheader", "--array", "--format=%i %T").stdout.split("\n")[:-1]

    # -- start / stop ---------------------------------------------------------------------

    def _munge_works(self) -> bool:
        try:
            enc = subprocess.run(["munge", "-n"], capture_output=True, timeout=5)
            if enc.returncode != 0:
                return False
            dec = subprocess.run(["unmunge"], input=enc.stdout, capture_output=True, timeout=5)
            return dec.returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False

    def _start_munge(self) -> None:
        """Reuse a running munged; otherwise start one as the munge user (key created if missing)."""
        if self._munge_works():
            return
        munge = pwd.getpwnam("munge")
        MUNGE_RUN_DIR.mkdir(parents=True, exist_ok=True)
        os.chown(MUNGE_RUN_DIR, munge.pw_uid, munge.pw_gid)
        os.chmod(MUNGE_RUN_DIR, 0o755)
        if not MUNGE_KEY.exists():
            MUNGE_KEY.parent.mkdir(parents=True, exist_ok=True)
            MUNGE_KEY.write_bytes(os.urandom(128))
        os.chown(MUNGE_KEY, munge.pw_uid, munge.pw_gid)
        os.chmod(MUNGE_KEY, 0o400)
        for d in (Path("/var/lib/munge"), Path("/var/log/munge")):
            d.mkdir(parents=True, exist_ok=True)
            os.chown(d, munge.pw_uid, munge.pw_gid)
        self._start("munged", [_which("munged"), "--foreground", "--force"], user="munge")
        self._wait_for(self._munge_works, 10, "munged does not answer", "munged")

    def _start(self, name: str, argv: List[str], user: Optional[str] = None) -> None:
        log = open(self.dir / f"{name}.out", "ab")
        try:
            self.procs[name] = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=self.env(), start_new_session=True, user=user, group=user,
            )
        finally:
            log.close()

    def _wait_for(self, predicate, timeout: float, what: str, name: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            proc = self.procs.get(name)
            if proc is not None and proc.poll() is not None:
                break
            time.sleep(0.2)
        if predicate():
            return
        logs = "\n".join(
            f"--- {p.name}:\n{_tail(p)}" for p in sorted(self.dir.glob("*.out")) + sorted(self.dir.glob("*.log"))
        )
        self.stop()
        raise RuntimeError(f"test Slurm cluster: {what}\n{logs}")

    def _node_state(self) -> str:
        r = subprocess.run(["sinfo", "--noheader", "--nodes=localhost", "--format=%t"],
                           env=self.env(), capture_output=True, text=True, timeout=10)
        return r.stdout.strip().splitlines()[0] if r.returncode == 0 and r.stdout.strip() else ""

    def start(self, timeout: float = 30) -> "SlurmCluster":
        for sub in ("state", "spool"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        self.conf.write_text(CONF_TEMPLATE.format(
            dir=self.dir, ctld_port=_free_port(), slurmd_port=_free_port(),
            cpus=os.cpu_count() or 1, memory=_memory_mb(),
        ))
        self._start_munge()
        self._start("slurmctld", [_which("slurmctld"), "-D", "-i", "-f", str(self.conf)])
        self._start("slurmd", [_which("slurmd"), "-D", "-N", "localhost", "-f", str(self.conf)])
        self._wait_for(lambda: self._node_state() == "idle", timeout, "the node did not become idle", "slurmd")
        return self

    def stop(self) -> None:
        """Cancel what is left, then stop the daemons this object started, by their PIDs."""
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            subprocess.run(["scancel", f"--user={os.getuid()}"], env=self.env(), capture_output=True, timeout=30)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                r = subprocess.run(["squeue", "--noheader"], env=self.env(), capture_output=True, text=True, timeout=10)
                if r.returncode != 0 or not r.stdout.strip():
                    break
                time.sleep(0.3)
        for name in ("slurmd", "slurmctld", "munged"):
            proc = self.procs.pop(name, None)
            if proc is None:
                continue
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    def __enter__(self) -> "SlurmCluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
