"""Kaldi's option-mapping config file of the cluster backends (``slurm.pl``, ``queue.pl``).

The recipe asks for resources in scheduler-neutral terms (``--mem 4G --gpu 1 --num-threads 2
--time 4:00:00 --max-jobs-run 8``); a config file, in the format of Kaldi's ``slurm.pl`` and
``queue.pl``, says what each becomes on the cluster::

    command sbatch --export=PATH --ntasks-per-node=1   # the submit command and its fixed options
    option mem=* --mem-per-cpu $0                      # any value: $0 is replaced by it
    option mem=0                                       # this exact value: add nothing
    option gpu=* -p gpu --gres=gpu:$0
    option gpu=0 -p cpu                                # an exact value wins over NAME=*
    default gpu=0                                      # the value when the option is not given

Option names are the command-line options with dashes as underscores (``mem``, ``gpu``,
``num_threads``, ``time``, ``num_nodes``, ``max_jobs_run``).  A data-parallel training asks for
``--gpu N --num-nodes M`` and runs one process per GPU; on Slurm these are M nodes with N tasks
each (``option gpu=* --gres=gpu:$0 --ntasks-per-node=$0``, ``option num_nodes=* --nodes=$0``: a
repeated sbatch option takes its last value, so this overrides the command's
``--ntasks-per-node=1``).  ``#`` starts a comment.  An option given on the
command line (or by a ``default`` line) that no ``option`` line describes is an error naming the
config file, so a request is never silently dropped.  As in Kaldi, without ``--config`` the file
``conf/slurm.conf`` (``conf/queue.conf``) of the current directory is read if there is one, else
the built-in default; ``--config FILE`` that cannot be read is an error.

Differences from Kaldi, none of which changes what a Kaldi config means: the lines may come in
any order (Kaldi applies a ``default`` only to ``option`` lines after it); ``option NAME=*``
with nothing after it accepts any value and adds nothing (Kaldi took the ``*`` literally);
the arguments are split like a shell would (quotes allowed), and come out in a fixed order (the
command line's, then the defaults) instead of Perl's hash order.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from accent.jobs.spec import JobOptions, UsageError

# ---------------------------------------------------------------------------------------------
# The config file

# Kaldi's utils/parallel/slurm.pl default config, except that CPU jobs go to the cluster's
# default partition (Kaldi's says `option gpu=0 -p shared`, a partition of the JHU cluster
# that most clusters do not have), and --num-nodes is mapped.  --max-jobs-run is not here:
# slurm.pl puts it in --array.  With this config a job with --gpu N is one task with N GPUs
# (accent.bin.launch then starts torchrun on that node).
DEFAULT_SLURM_CONFIG = """\
# Default configuration
command sbatch --export=PATH --ntasks-per-node=1
option time=* --time $0
option mem=* --mem-per-cpu $0
option mem=0          # Do not add anything to qsub_opts
option num_threads=* --cpus-per-task $0 --ntasks-per-node=1
option num_threads=1 --cpus-per-task 1 --ntasks-per-node=1 # Do not add anything to qsub_opts
default gpu=0
option gpu=0
option gpu=* -p gpu --gres=gpu:$0 --time 4:0:0  # this has to be figured out
option num_nodes=* --nodes=$0
# note: the --max-jobs-run option is supported as a special case
# by slurm.pl and you don't have to handle it in the config file.
"""

# Kaldi's utils/parallel/queue.pl default config, plus a line for --time (h_rt).
DEFAULT_SGE_CONFIG = """\
# Default configuration
command qsub -v PATH -cwd -S /bin/bash -j y -l arch=*64*
option mem=* -l mem_free=$0,ram_free=$0
option mem=0          # Do not add anything to qsub_opts
option num_threads=* -pe smp $0
option num_threads=1  # Do not add anything to qsub_opts
option max_jobs_run=* -tc $0
option time=* -l h_rt=$0
default gpu=0
option gpu=0
option gpu=* -l gpu=$0 -q g.q
"""

_COMMAND_RE = re.compile(r"^command\s+(.+)$")
_STAR_RE = re.compile(r"^option\s+([^=\s]+)=\*(?:\s+(.*))?$")
_VALUE_RE = re.compile(r"^option\s+([^=\s]+)=(\S+)(?:\s+(.*))?$")
_DEFAULT_RE = re.compile(r"^default\s+([^=\s]+)=(\S+)\s*$")


@dataclass
class QueueConfig:
    """A parsed config file.  ``source`` names it in messages (a path, or "the default config")."""

    source: str
    command: List[str]
    star_rules: Dict[str, str] = field(default_factory=dict)  # name -> args with $0
    value_rules: Dict[Tuple[str, str], str] = field(default_factory=dict)  # (name, value) -> args
    defaults: Dict[str, str] = field(default_factory=dict)  # name -> value

    def describes(self, name: str) -> bool:
        return name in self.star_rules or any(n == name for n, _ in self.value_rules)


def _split(args: str, source: str, line_no: int, line: str) -> List[str]:
    try:
        return shlex.split(args)
    except ValueError as e:
        raise UsageError(f"config file {source}, line {line_no}: {e}: '{line}'") from None


def parse_config(text: str, source: str) -> QueueConfig:
    """Parse Kaldi's config format; errors name ``source`` and the line."""
    command: Optional[List[str]] = None
    config = QueueConfig(source=source, command=[])
    for line_no, raw in enumerate(text.splitlines(), 1):
        line = re.sub(r"\s*#.*", "", raw).strip()  # Kaldi: s/\s*#.*//g
        if not line:
            continue
        m = _COMMAND_RE.match(line)
        if m:
            command = _split(m.group(1), source, line_no, raw)
            continue
        m = _STAR_RE.match(line)
        if m:
            config.star_rules[m.group(1)] = m.group(2) or ""
            _split(config.star_rules[m.group(1)], source, line_no, raw)  # check the quoting now
            continue
        m = _VALUE_RE.match(line)
        if m:
            config.value_rules[(m.group(1), m.group(2))] = m.group(3) or ""
            _split(m.group(3) or "", source, line_no, raw)
            continue
        m = _DEFAULT_RE.match(line)
        if m:
            config.defaults[m.group(1)] = m.group(2)
            continue
        raise UsageError(f"unable to parse line {line_no} '{raw.strip()}' in config file {source}")
    if not command:
        raise UsageError(f'config file {source} does not contain the line "command <submit command> ..."')
    config.command = command
    return config


def load_config(given: Optional[str], default_path: str, builtin: str) -> QueueConfig:
    """The config of ``--config given``; without it ``default_path`` if it exists, else ``builtin``."""
    if given is None:
        if not os.path.exists(default_path):
            return parse_config(builtin, "the default config")
        path = default_path
    else:
        path = given
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise UsageError(f"cannot read config file {path}: {e.strerror}") from None
    return parse_config(text, path)


def cli_options(options: JobOptions) -> Dict[str, str]:
    """The options given on the command line, Kaldi-named (``--num-threads`` -> ``num_threads``),
    in the order given, the last one winning; ``--config`` is not an option to map."""
    result: Dict[str, str] = {}
    for option, value in options.given:
        name = option.lstrip("-").replace("-", "_")
        if name == "config":
            continue
        result.pop(name, None)
        result[name] = value
    return result


def map_options(config: QueueConfig, given: Dict[str, str], skip: Sequence[str] = ()) -> List[str]:
    """The submit options for the given options (plus the config's defaults), Kaldi's rules:
    an ``option NAME=VALUE`` line for the exact value, else ``option NAME=*`` with ``$0``
    replaced by the value, else an error.  Options in ``skip`` are left to the backend."""
    wanted = dict(given)
    for name, value in config.defaults.items():
        wanted.setdefault(name, value)
    args: List[str] = []
    for name, value in wanted.items():
        if name in skip:
            continue
        if (name, value) in config.value_rules:
            text = config.value_rules[(name, value)]
        elif name in config.star_rules:
            text = config.star_rules[name].replace("$0", value)
        else:
            how = f"--{name.replace('_', '-')} {value}" if name in given else f"'default {name}={value}'"
            known = sorted({n for n, _ in config.value_rules} | set(config.star_rules))
            raise UsageError(
                f"option {how} is not described in config file {config.source}: add a line "
                f"'option {name}=* <options with $0>' or 'option {name}={value} <options>' "
                f"(it describes: {', '.join(known) or 'nothing'})"
            )
        args.extend(shlex.split(text))
    return args


