"""One run per run directory: an exclusive `flock` on RUN_DIR/.lock, held for the whole job.

Two processes writing into one directory interleave silently, so the second is refused with
the owner's pid, host and start time (the file's JSON). The kernel drops a `flock` when its
holder dies, however it dies, so a lock file left by a killed run blocks nothing: the next run
takes it over. A reader that needs the records and the checkpoint to agree (`nasiam export`)
takes the lock too, through `reading()`.

The lock harms nothing it does not own: it never follows a symbolic link, and a `.lock` that is
not a nasiam lock file (another program's, or a FIFO, socket, device or folder) is refused,
neither rewritten nor removed.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import stat
import time
from pathlib import Path
from typing import Any, Iterator

from nasiam._io import kind_of
from nasiam.errors import RunDirLockedError, shown, shown_path

LOCK_FILE = ".lock"
RUN_BUSY_ADVICE = "Wait for it to end (or stop it) before resuming, or choose another --run_name"


def read_owner(path: Path) -> dict[str, Any] | None:
    """The nasiam owner record in the lock file at `path`, or None: no file, an empty one (a run
    writes its record just after taking the lock), not a regular file, or another program's text."""
    return _owner_record(_first_bytes(path))


def _first_bytes(path: Path) -> bytes:
    """The start of the lock file at `path` (b"" where it cannot be opened), read without following
    a link or waiting on a FIFO; b"?" for what is not a regular file or cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return b""
    try:
        return os.read(fd, 4097) if stat.S_ISREG(os.fstat(fd).st_mode) else b"?"
    except OSError:
        return b"?"
    finally:
        os.close(fd)


# who holds a lock whose file is not empty yet holds no nasiam owner record: another program
# (its own text), or a record cut short; nothing says which process it is
UNIDENTIFIED_OWNER = "a process nasiam could not identify (its lock file holds no nasiam owner record)"


def describe_owner(owner: dict[str, Any] | None) -> str:
    if not owner:
        return "another process (its lock file is empty: it is just starting)"
    try:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(owner["since"]))
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        when = "?"
    pid, host, command = (_plain(owner.get(k, "?")) for k in ("pid", "host", "command"))
    return f"pid {pid} on {host} (since {when}, `nasiam {command}`)"


def describe_holder(path: Path) -> str:
    """Who holds the lock file at `path`, as the file says, read once: its owner record, an empty
    file (a nasiam run writes its record just after taking the lock), or anything else, another
    program's lock (the tenth probe of #33, G5: called "empty: it is just starting")."""
    head = _first_bytes(path)
    owner = _owner_record(head)
    return describe_owner(owner) if owner or not head else UNIDENTIFIED_OWNER


def _owner_record(head: bytes) -> dict[str, Any] | None:
    """A nasiam owner record (the JSON object a run writes), or None."""
    try:
        owner = json.loads(head.decode())
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return owner if isinstance(owner, dict) and {"pid", "host", "since", "command"} <= set(owner) else None


def _plain(value: Any) -> str:
    """A field of an owner record as the terminal gets it: any process may write the file, so
    escape sequences, right-to-left overrides and long values are shown escaped and cut."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 1 << 63 or \
            isinstance(value, str) and value.isprintable() and len(value) <= 64:
        return str(value)
    return shown(value)


def _not_a_regular_file(path: Path, mode: int) -> RunDirLockedError:
    return RunDirLockedError(f"{shown_path(path)} is {kind_of(mode)}, not a nasiam lock file (a regular file); nasiam "
                             f"leaves it untouched. Move it out of {shown_path(path.parent)}, or choose another "
                             "--run_name or --out_dir")


def _a_link(path: Path) -> RunDirLockedError:
    return RunDirLockedError(f"{shown_path(path)} is a symbolic link; nasiam writes its lock file only as a plain "
                             "file. Remove the link, or choose another --run_name")


def _another_programs_file(path: Path) -> RunDirLockedError:
    return RunDirLockedError(f"{shown_path(path)} exists and is not a nasiam lock file (another program's?); nasiam "
                             f"leaves it untouched. {shown_path(path.parent)} is not a nasiam run directory: choose "
                             "another --run_name or --out_dir")


def unusable_lock_file(path: Path) -> str | None:
    """Why `RunDirLock` would refuse the lock file at `path`, seen without taking it or writing
    anything (a FIFO, socket, device, folder or link is never opened): not a regular file, or
    another program's file. None where it is a nasiam lock file, or there is none."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return None
    if not stat.S_ISREG(mode):
        return str(_a_link(path) if stat.S_ISLNK(mode) else _not_a_regular_file(path, mode))
    head = _first_bytes(path)
    return None if not head or _owner_record(head) else str(_another_programs_file(path))


def _is_nasiam_lock(fd: int) -> bool:
    """Empty (just created, by us or by a nasiam run starting) or a nasiam owner record."""
    head = os.pread(fd, 4097, 0)
    return not head or _owner_record(head) is not None


def live_owner(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The owner recorded in `run_dir`'s lock file while a live process holds the lock (an empty
    dict when its record cannot be read), else None; nothing is taken or written. A lock file a
    killed run left behind holds no lock (the kernel dropped it) and says None."""
    path = Path(run_dir) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)   # dropped again when fd closes
        except BlockingIOError:
            return read_owner(path) or {}
        return None
    finally:
        os.close(fd)


def _missing_folders(folder: Path) -> list[Path]:
    """`folder` and those of its parents that do not exist, deepest first: what mkdir(parents=True) makes."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """A run refused before writing anything leaves no empty folder it made: the run folder and
    the --out_dir above it (the run folder alone was removed, #33 probe 22, T9). Deepest first;
    the first one not empty (something was written, or someone else uses it) stops it."""
    for folder in folders:
        try:
            folder.rmdir()
        except FileNotFoundError:
            continue   # already removed (a refused run's folder is cleared by its runner)
        except OSError:
            return


class RunDirLock:
    """`acquire()` takes the lock or raises RunDirLockedError; `release()` removes the file
    and drops the lock. `stale_owner`: the owner a killed run left in the file, if any."""

    def __init__(self, run_dir: str | os.PathLike, command: str = "run", busy_advice: str = RUN_BUSY_ADVICE):
        self.path = Path(run_dir) / LOCK_FILE
        self.command = command
        self.busy_advice = busy_advice
        self.fd: int | None = None
        self.stale_owner: dict[str, Any] | None = None
        self._created_dirs: list[Path] = []   # the folders acquire() made, deepest first

    def acquire(self) -> RunDirLock:
        self._created_dirs = _missing_folders(self.path.parent)
        while True:
            self.path.parent.mkdir(parents=True, exist_ok=True)  # again if a leaving owner removed it
            # A FIFO, socket, device or folder is named before it is opened: opening a FIFO or a
            # device may block or act on it, and a FIFO's read would fail with no file named
            with contextlib.suppress(FileNotFoundError):
                mode = os.lstat(self.path).st_mode
                if not stat.S_ISREG(mode) and not stat.S_ISLNK(mode):
                    raise _not_a_regular_file(self.path, mode)
            # O_CLOEXEC: processes the run starts must not keep the lock alive after it ends;
            # O_NOFOLLOW: a planted symbolic link is refused, never written through;
            # O_NONBLOCK: one swapped in after the check above is not waited on either
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
            except OSError:
                if self.path.is_symlink():
                    raise _a_link(self.path) from None
                raise
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode):
                os.close(fd)
                raise _not_a_regular_file(self.path, mode)
            if not _is_nasiam_lock(fd):
                os.close(fd)
                raise _another_programs_file(self.path)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise RunDirLockedError(
                    f"{self.path.parent} is in use by {describe_holder(self.path)}: one run writes to a run directory "
                    f"at a time. {self.busy_advice}") from None
            # The previous owner may have removed the file between our open and our flock;
            # then we hold a lock on a file nobody else sees: start again on the new one.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        self.fd = fd
        self.stale_owner = read_owner(self.path)
        record = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": round(time.time(), 3),
                             "command": self.command}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, record, 0)
        return self

    def describe_stale(self) -> str | None:
        """What to tell the user when a killed run left its lock file behind."""
        if not self.stale_owner:
            return None
        return (f"{self.path.parent}: the previous run here ({describe_owner(self.stale_owner)}) ended without "
                "cleaning up (killed, or its machine went down); its lock was released with it, taking over")

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)  # still under the lock: nobody else can own it yet
        finally:
            os.close(self.fd)  # drops the lock
            self.fd = None
        _remove_empty(self._created_dirs)

    def __enter__(self) -> RunDirLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


@contextlib.contextmanager
def reading(run_dir: str | os.PathLike, command: str, busy_advice: str) -> Iterator[None]:
    """Hold `run_dir`'s lock while reading it, so no run writes to it meanwhile. Where no lock
    file can be created (a read-only archive, another user's), a live owner's file is held with
    a shared `flock` instead; no file there means no run is writing."""
    lock = RunDirLock(run_dir, command, busy_advice)
    try:
        lock.acquire()
    except OSError as e:
        if e.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        with _shared_hold(lock):
            yield
        return
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def _shared_hold(lock: RunDirLock) -> Iterator[None]:
    try:
        fd = os.open(lock.path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        yield
        return
    try:
        if not stat.S_ISREG(mode := os.fstat(fd).st_mode):
            raise _not_a_regular_file(lock.path, mode)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunDirLockedError(f"{lock.path.parent} is in use by {describe_holder(lock.path)}. "
                                    f"{lock.busy_advice}") from None
        yield
    finally:
        os.close(fd)
