"""Entry point of ``python -m accent.jobs``; see :mod:`accent.jobs.cli`."""

import sys

from accent.jobs.cli import cli

sys.exit(cli())
