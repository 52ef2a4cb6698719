"""One writer per output directory: an exclusive ``flock`` on ``<dir>/.lock``, held while the writer
runs (and by the processes that inherit it).

An experiment directory (``exp/<name>``, the trainer) and a feature directory (``fbank/<set>``,
``utils/make_fbank.sh`` and its jobs) each have one writer at a time: a second run that would
write there stops at once, naming the holder (its PID and host, written into the lock file).
The kernel releases the lock when its last holder exits, however it died (``kill -9``
included), so a lock file left by a dead process never blocks; its stale contents are only
overwritten.

From Python: ``with DirectoryLock(directory): ...``.  From a shell
script, which cannot take an flock itself without util-linux' ``flock``::

    exec {lock_fd}<>"$dir/.lock"                                  # opened by the script...
    "$accent_python" -m accent.jobs.lock --fd $lock_fd --pid $$ --prog "$0" "$dir" || exit 1  # ...locked here
    export ACCENT_LOCK_FDS="${ACCENT_LOCK_FDS:+$ACCENT_LOCK_FDS }$lock_fd"

The lock belongs to the open file, which the script keeps open after the helper exits; the
script's children inherit it, and ``run.pl`` passes the descriptors in ``$ACCENT_LOCK_FDS`` on
to its tasks, so the lock is free only once every job writing there has ended.
"""

from __future__ import annotations

import argparse
import errno
import fcntl
import os
import socket
import sys
from pathlib import Path
from typing import List, Optional

LOCK_NAME = ".lock"

class DirectoryBusy(RuntimeError):
    """Another process writes the directory; the message names it."""


def holder_of(fd: int) -> str:
    """What the lock file says about its holder ("pid N on host H"), or a placeholder."""
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", errors="replace").strip()
    except OSError:
        text = ""
    return text or "a process that has not written its PID yet"


def lock_fd(fd: int, directory: os.PathLike, pid: Optional[int] = None) -> None:
    """Take the exclusive lock on the open lock file ``fd`` of ``directory`` for ``pid`` (default:
    this process) and write who holds it; :class:`DirectoryBusy` when another process holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise
        path = Path(directory) / LOCK_NAME
        raise DirectoryBusy(
            f"{directory} is in use by {holder_of(fd)} ({path}): two runs cannot write it at once; "
            "wait for that one to end, or stop it"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {pid or os.getpid()} on host {socket.gethostname()}\n".encode(), 0)


# The descriptors of the DirectoryLocks this process holds.  A forked child (a DataLoader
# worker, say) closes its copies at once: it is not the writer, and holding the lock it would
# keep it taken after the writer has died (until the child noticed and exited itself).
_held: set = set()


def _close_in_child() -> None:
    for fd in _held:
        try:
            os.close(fd)
        except OSError:
            pass
    _held.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_in_child)


class DirectoryLock:
    """``with DirectoryLock(dir):`` makes ``dir`` if needed and holds its lock for the block (and
    to the end of the process, however it ends, if the block does not end first).  The lock is
    this process's: neither forked children nor started programs inherit it."""

    def __init__(self, directory: os.PathLike) -> None:
        self.directory = Path(directory)
        self._fd: Optional[int] = None

    def __enter__(self) -> "DirectoryLock":
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.directory / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            lock_fd(fd, self.directory)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        _held.add(fd)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            _held.discard(self._fd)
            os.close(self._fd)  # releases the lock; the file stays, its contents are stale now
            self._fd = None


def inherited_lock_fds() -> List[int]:
    """The open lock descriptors named in ``$ACCENT_LOCK_FDS`` (for a runner to pass to its tasks)."""
    fds = []
    for word in os.environ.get("ACCENT_LOCK_FDS", "").split():
        try:
            fd = int(word)
            os.fstat(fd)
        except (ValueError, OSError):
            continue
        fds.append(fd)
    return fds


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m accent.jobs.lock", description="lock a directory for a shell script")
    p.add_argument("--fd", type=int, required=True, help="the script's open descriptor of <dir>/.lock")
    p.add_argument("--pid", type=int, required=True, help="the script's PID (the holder named to others)")
    p.add_argument("--prog", default="accent.jobs.lock", help="the script's name, for the message")
    p.add_argument("directory")
    args = p.parse_args(argv)
    try:
        lock_fd(args.fd, args.directory, args.pid)
    except DirectoryBusy as e:
        print(f"{args.prog}: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"{args.prog}: cannot lock {args.directory}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
