"""``python -m accent.jobs <backend> [run.pl arguments]``: what the ``utils/*.pl`` wrappers call.

    python -m accent.jobs local [options] [JOB=1:N] <log> <command...>   # utils/run.pl
    python -m accent.jobs slurm ...                                      # utils/slurm.pl
    python -m accent.jobs sge ...                                        # utils/queue.pl
    python -m accent.jobs exec --spec FILE --index I [--status-file F]   # one task, on a cluster node

A backend is found by name in :data:`BACKENDS` and imported only when used, so a missing or
broken cluster backend never stops ``run.pl`` from working.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Dict, List, Optional, Sequence, Tuple

from accent.jobs.backend import Backend, main
from accent.jobs.spec import JobSpec
from accent.jobs.task import run_task

# name -> (module, class).  The wrapper scripts pass the name; a new backend adds one line here.
BACKENDS: Dict[str, Tuple[str, str]] = {
    "local": ("accent.jobs.local", "LocalBackend"),
    "slurm": ("accent.jobs.slurm", "SlurmBackend"),
    "sge": ("accent.jobs.sge", "SgeBackend"),
}

USAGE = (
    "usage: python -m accent.jobs {" + ",".join(BACKENDS) + "} [options] [JOB=1:N] <log-file> <command...>\n"
    "       python -m accent.jobs exec --spec FILE --index I [--status-file FILE]"
)


def load_backend(name: str) -> Backend:
    module_name, class_name = BACKENDS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name != module_name:
            raise
        raise SystemExit(f"accent.jobs: the '{name}' backend is not available ({module_name} is missing)")
    backend_class = getattr(module, class_name)
    return backend_class()


def _exec_main(argv: Sequence[str]) -> int:
    """Run task ``--index`` of the spec in ``--spec`` here and now; with ``--status-file``, write
    the task's exit code there afterwards (atomically), for backends that wait on files."""
    values: Dict[str, Optional[str]] = {"--spec": None, "--index": None, "--status-file": None}
    args: List[str] = list(argv)
    while args:
        name = args.pop(0)
        if name not in values or not args:
            print(f"accent.jobs exec: bad argument '{name}'\n{USAGE}", file=sys.stderr)
            return 1
        values[name] = args.pop(0)
    if values["--spec"] is None or values["--index"] is None:
        print(f"accent.jobs exec: --spec and --index are required\n{USAGE}", file=sys.stderr)
        return 1
    with open(values["--spec"], encoding="utf-8") as f:
        spec = JobSpec.from_json(f.read())
    code = run_task(spec.task(int(values["--index"])), spec.options.num_threads)
    status_file = values["--status-file"]
    if status_file:
        tmp = f"{status_file}.tmp.{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(f"{code}\n")
        os.replace(tmp, status_file)
    return code


def cli(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE, file=sys.stderr)
        return 0 if args else 1
    name, rest = args[0], args[1:]
    if name == "exec":
        return _exec_main(rest)
    if name not in BACKENDS:
        print(f"accent.jobs: unknown backend '{name}'\n{USAGE}", file=sys.stderr)
        return 1
    return main(load_backend(name), rest)
