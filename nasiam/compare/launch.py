"""How `nasiam compare` starts a run: its log opened safely, the process tied to the driver.

The log, logs/NAME.log, is appended to as a plain file only. `open(log, "a")` followed a
symbolic link planted there (the run's output appended to a file outside --out) and blocked
forever on a FIFO (the seventh probe of #33, C1 and C2): the log is opened without following
links and without blocking, and anything but a regular file is refused, as `RunDirLock` refuses
a `.lock` that is not its own.

A run has a session of its own (a terminal's Ctrl-C reaches the driver alone, which stops its
runs with one SIGTERM each), so nothing ended it when the driver was SIGKILLed: it trained on,
orphaned, and the next `nasiam compare` misread its lock refusal as an option error. On Linux
the kernel now sends the run SIGTERM when the driver dies, however it dies (`PR_SET_PDEATHSIG`),
and the run stops at its next step with a checkpoint, as on any SIGTERM. Elsewhere nothing is
set; the driver's check of the run folder's lock (`still_running`) covers those systems. (Linux
sends the signal when the *thread* that started the run ends: `run_jobs` starts its runs and waits
for them in one thread, the caller's.)
"""
from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path
from typing import IO, Callable

from nasiam.errors import shown_path
from nasiam.runner.lock import LOCK_FILE, UNIDENTIFIED_OWNER, describe_holder, live_owner

__all__ = ["UnusableLogError", "open_log", "start_run", "still_running"]

PR_SET_PDEATHSIG = 1   # <linux/prctl.h>


class UnusableLogError(Exception):
    """logs/NAME.log is there and is not a regular file: the job is not run, its log untouched."""


def _what(path: Path) -> str:
    if path.is_symlink():
        return f"a symbolic link (to {shown_path(os.readlink(path))})"
    return "a folder" if path.is_dir() else "a FIFO, socket or device"


def open_log(log: Path) -> int:
    """A descriptor appending to `log`, created if missing: never through a symbolic link, never
    blocking (a FIFO), a regular file only. `UnusableLogError` names anything else there; other
    OSErrors (a full disk, permissions) are raised as they are."""
    flags = (os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
             | getattr(os, "O_CLOEXEC", 0))
    try:
        fd = os.open(log, flags, 0o666)
    except OSError:
        # ELOOP (a link), ENXIO (a FIFO nobody reads), EISDIR: what is there, not the disk
        if os.path.lexists(log) and not stat.S_ISREG(os.lstat(log).st_mode):
            raise UnusableLogError(_refusal(log)) from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):   # a FIFO that had a reader, a device
        os.close(fd)
        raise UnusableLogError(_refusal(log))
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)   # the run writes to it as to any file
    return fd


def _refusal(log: Path) -> str:
    return (f"its log {shown_path(log)} is {_what(log)}, where compare appends the run's output to a plain file; "
            "nasiam leaves it as it is and writes nothing through it. Remove it (or move it out of logs/) and run "
            "the same command again")


def _die_with_driver() -> Callable[[], None] | None:
    """A `preexec_fn` asking Linux to send the child SIGTERM when this process dies, or None
    where that cannot be asked (other systems, a libc without prctl)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl   # resolved here, not in the forked child
    except (OSError, AttributeError):
        return None
    driver = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))
        if os.getppid() != driver:   # the driver died between the fork and the prctl
            os.kill(os.getpid(), signal.SIGTERM)
    return preexec


def start_run(argv: list[str], log: IO, env: dict[str, str] | None) -> subprocess.Popen:
    """`argv` writing to `log`, in a session of its own (signals come from the driver only),
    ended with SIGTERM if the driver dies first (Linux)."""
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL,
                            start_new_session=True, preexec_fn=_die_with_driver())


def still_running(run: Path) -> str | None:
    """Why `run` cannot be started now: a live process holds its lock (an earlier compare's run,
    left training when that driver was killed, or a user's own `nasiam pretrain` there); None
    when none does. Said as the lock records it: the record does not say who started the run
    (#33 probe 8, E8: a user's own run was called one "from an earlier compare")."""
    if live_owner(run) is None:
        return None
    holder = describe_holder(run / LOCK_FILE)
    # another program's lock there is no run of nasiam's: said as such (#33 probe 10, G5)
    who = holder if holder == UNIDENTIFIED_OWNER else f"a run still training there, {holder}"
    return (f"{shown_path(run)} is in use by {who}: wait for it "
            "to end or stop it, then run the same command again")
