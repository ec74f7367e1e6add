"""SIGINT and SIGTERM as requests to stop at the next step boundary.

Killing a run mid-step loses everything since the last epoch checkpoint; a cluster scheduler
sends SIGTERM some time before SIGKILL, and Ctrl-C sends SIGINT. While installed, the handlers
only note the signal; the training loop sees it at the end of the step, writes a resumable
checkpoint and exits with 128 + the signal's number (130, 143). A second signal of either
kind stops at once (KeyboardInterrupt), for a user who does not want to wait for the step.
"""
from __future__ import annotations

import signal
import threading

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """`install()` the handlers (main thread only: Python allows no other), `restore()` the
    previous ones; also a context manager."""

    def __init__(self):
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def _handle(self, signum, frame) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt  # asked twice: stop now, the last checkpoint is kept
        self.signum = signum

    def install(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread() and not self._previous:
            for signum in STOP_SIGNALS:
                previous = signal.signal(signum, self._handle)
                # None: a handler set outside Python; the default is the closest we can put back
                self._previous[signum] = signal.SIG_DFL if previous is None else previous
        return self

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def __enter__(self) -> StopSignals:
        return self.install()

    def __exit__(self, *exc) -> None:
        self.restore()
