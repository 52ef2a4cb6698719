"""Waiting for tasks without missing Ctrl-C, SIGTERM or a task's end.

A runner sleeps until something happens: a task ends (SIGCHLD) or it is told to stop (SIGINT,
SIGTERM, SIGHUP).  Raising an exception from a signal handler could fire between reaping a task
and recording its status; instead the handlers only record the signal, and Python's wakeup fd
makes :meth:`StopSignals.wait` return at once, so nothing is polled at a high rate and nothing is
lost.  The runner then checks :attr:`StopSignals.received` at a point of its choosing.
"""

from __future__ import annotations

import os
import select
import signal
import threading
from types import FrameType
from typing import Any, Dict, Optional

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopSignals:
    """Context manager: while active, the stop signals are recorded instead of ending the process.

    Signals ignored when it starts (nohup, background jobs of a script) are left ignored.

    Outside the main thread (where Python cannot install handlers) it degrades to plain timed
    waits and never reports a signal.
    """

    def __init__(self) -> None:
        self.received: Optional[int] = None
        self._active = False
        self._pipe: Optional[tuple] = None
        self._old_handlers: Dict[int, Any] = {}
        self._old_wakeup_fd = -1

    def _record(self, signum: int, frame: Optional[FrameType]) -> None:
        if self.received is None:
            self.received = signum

    @staticmethod
    def _ignore(signum: int, frame: Optional[FrameType]) -> None:
        """SIGCHLD needs a Python handler for the wakeup fd to be written; nothing else to do."""

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is not threading.main_thread():
            return self
        r, w = os.pipe()
        os.set_blocking(r, False)
        os.set_blocking(w, False)
        self._pipe = (r, w)
        self._old_wakeup_fd = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
        for signum in STOP_SIGNALS:
            # A signal ignored on entry stays ignored: `nohup run.pl ...` must survive a logout,
            # and a shell ignores SIGINT for the jobs it puts in the background.
            if signal.getsignal(signum) is not signal.SIG_IGN:
                self._old_handlers[signum] = signal.signal(signum, self._record)
        self._old_handlers[signal.SIGCHLD] = signal.signal(signal.SIGCHLD, self._ignore)
        self._active = True
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._active:
            return
        for signum, handler in self._old_handlers.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(self._old_wakeup_fd)
        assert self._pipe is not None
        for fd in self._pipe:
            os.close(fd)
        self._pipe = None
        self._active = False

    def wait(self, timeout: float) -> None:
        """Sleep until a signal arrives (a stop signal or a child's exit) or
        ``timeout`` seconds pass.  A signal that came before the call makes it return at once."""
        if self.received is not None:
            return
        if self._pipe is None:
            select.select([], [], [], timeout)
            return
        r = self._pipe[0]
        readable, _, _ = select.select([r], [], [], timeout)
        if readable:
            try:
                while os.read(r, 512):
                    pass
            except BlockingIOError:
                pass
