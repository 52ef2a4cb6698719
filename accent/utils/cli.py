"""Shared start-up of the ``accent.bin`` entry points: logging and clear errors."""

from __future__ import annotations

import errno
import logging
import sys
from typing import Callable, NoReturn

from accent.data.audio import AudioError
from accent.data.kaldi_dir import DataDirError
from accent.data.problems import CorpusError
from accent.utils.integrity import DamagedFileError

# Errors about the user's input: print the message alone, a traceback would hide it.
INPUT_ERRORS = (AudioError, CorpusError, DataDirError, DamagedFileError, FileNotFoundError)


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s [%(name)s] %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S",
    )


def run(main: Callable[[], None]) -> NoReturn:
    """Run an entry point; input errors exit 1 with their message instead of a traceback."""
    setup_logging()
    try:
        main()
    except INPUT_ERRORS as e:
        logging.getLogger("accent").error("%s", e)
        sys.exit(1)
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        where = f"{e.filename}: " if e.filename else ""
        logging.getLogger("accent").error("%s%s", where, e.strerror)
        sys.exit(1)
    sys.exit(0)
