"""File and folder writing that never leaves a half-written file or folder where a good one stood."""
from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import stat
import uuid
from pathlib import Path
from typing import Iterator

try:
    import fcntl
except ImportError:   # Windows: no flock; nothing is then taken for abandoned (`remove_abandoned`)
    fcntl = None  # type: ignore[assignment]

# What open(path, "w") asks for: the process's umask then decides who may read the file, as it
# does for every other file a user writes (on a shared cluster a group-readable run is often the
# point). nasiam writes no secrets (tokens stay with huggingface_hub and wandb), so nothing here
# narrows it further. tempfile.mkstemp would create every file 0600, whatever the umask.
FILE_MODE = 0o666
# An atomic write's temporary file: ".NAME.<8 hex digits>.nasiam.tmp" beside NAME. A kill
# (SIGKILL, a power cut) between its creation and its rename leaves it behind; the name is
# distinctive so that `remove_temporary_files` can tell it from anything a user keeps there.
TEMPORARY_SUFFIX = ".nasiam.tmp"
_TEMPORARY = re.compile(r"\..+\.[0-9a-f]{8}" + re.escape(TEMPORARY_SUFFIX))
# Made first in each `new_directory` hidden folder, removed just before its rename: a `.partial`
# folder is taken for a killed writer's only if it holds this, not on its name alone (#33 probe 8,
# E3: a user's `.e4.<12 hex>.partial` beside --out was removed with its files). A folder, so
# that nothing listing the files being written (an export's record of them) sees it.
PARTIAL_MARKER = ".nasiam-partial"


def _create_temporary(directory: Path, name: str) -> tuple[int, Path]:
    """A new file beside `name`, opened for writing, created with FILE_MODE less the umask, and
    held (`_hold`) until the writer closes it."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    while True:
        tmp = directory / f".{name}.{secrets.token_hex(4)}{TEMPORARY_SUFFIX}"
        try:
            fd = os.open(tmp, flags, FILE_MODE)
        except FileExistsError:   # O_EXCL: another writer's temporary file; draw another name
            continue
        if _hold(fd):
            return fd, tmp
        os.close(fd)


def _hold(fd: int) -> bool:
    """Take the `flock` of the new temporary file or folder `fd` for its writer: the kernel drops
    it when the writer dies, however it dies, so a temporary nobody holds is one whose writer is
    gone (`remove_abandoned`). False when such a cleaner removed it between its creation and
    this lock (it held the lock meanwhile): the caller makes another."""
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)   # waits, if at all, for a cleaner that is looking at it
    except OSError:   # a file system without locks: written as before (no cleaner removes it)
        return True
    return os.fstat(fd).st_nlink > 0


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` via a temporary file in the same directory and `os.replace`: a
    crash, a full disk or a kill leaves either the old file or the new one, never a truncated mix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temporary(path.parent, path.name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
            os.replace(tmp, path)   # still open, so still held: never taken for abandoned
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, OSError) and e.filename is None and e.errno is not None:
            # a failed write() or fsync() names no file: name the one being written, so a
            # full disk says which output it stopped (the CLI's exit 5 message)
            raise OSError(e.errno, e.strerror, str(path)) from e
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def is_within(path: str | os.PathLike, folder: str | os.PathLike, resolved: bool = False) -> bool:
    """Whether `path` is `folder` or inside it, links resolved on both sides (`resolved`: both are
    realpath's already; resolving each pair of 2,000 class folders again took minutes)."""
    if not resolved:
        path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISLNK, "a symbolic link"))


def kind_of(mode: int) -> str:
    """What a file that is not a regular file is, in words, from its mode (os.lstat's or os.fstat's)."""
    return next((name for is_kind, name in _KINDS if is_kind(mode)), "not a regular file")


def not_a_file(path: str | os.PathLike) -> str | None:
    """What `path` is when it is there but not a regular file ("a folder", "a FIFO, socket or
    device", "a dangling symbolic link"), links followed, from its metadata alone: opening a FIFO
    to find out would block until a writer comes. None for a regular file, or nothing there.
    (`kind_of` tells a FIFO from a socket or a device, from a mode.)"""
    path = Path(path)
    if path.is_file() or not os.path.lexists(path):
        return None
    if path.is_symlink() and not path.exists():
        return "a dangling symbolic link"
    return "a folder" if path.is_dir() else "a FIFO, socket or device"


def is_temporary_file(name: str) -> bool:
    """Whether `name` is an atomic write's temporary file, as `_create_temporary` names them."""
    return _TEMPORARY.fullmatch(name) is not None


def remove_temporary_files(root: str | os.PathLike, recursive: bool = True) -> list[str]:
    """Delete (and return, relative to `root`) the temporary files killed atomic writes left in
    `root` and below (`recursive=False`: in `root` alone, whose sub-folders other writers own):
    regular files named as `_create_temporary` names them, nothing else; links are not followed.
    Call it only while no write into `root` can be in flight."""
    root, removed = Path(root), []
    for parent, folders, files in os.walk(root, followlinks=False):
        if not recursive:
            folders.clear()
        for name in files:
            path = Path(parent) / name
            try:
                if is_temporary_file(name) and stat.S_ISREG(path.lstat().st_mode):
                    path.unlink()
                    removed.append(path.relative_to(root).as_posix())
            except FileNotFoundError:
                continue
    return sorted(removed)


def remove_abandoned(directory: str | os.PathLike, name: str) -> list[str]:
    """Delete (and return the names of) the hidden temporaries that killed writes of `name` left
    in `directory`: `atomic_write_bytes`'s `.NAME.<8 hex>.nasiam.tmp` files and `new_directory`'s
    `.NAME.<12 hex>.partial` folders whose writers are gone (nobody holds their `flock`, see
    `_hold`) and that hold `PARTIAL_MARKER`. Nothing else: not another name's, not a link (never
    followed), not one a live writer holds, not a folder without the marker (a user's). The next
    writer of the same output calls it: nothing else ever would (#33 probe 7, D5: a killed
    export's 23 MB folder stayed beside its --out for good)."""
    if fcntl is None:   # no flock, so no telling a live writer's from a dead one's
        return []
    own = re.compile(re.escape(f".{name}.") + r"(?:[0-9a-f]{8}" + re.escape(TEMPORARY_SUFFIX) + r"|[0-9a-f]{12}\.partial)")
    try:
        entries = [entry for entry in os.scandir(directory) if own.fullmatch(entry.name)]
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [entry.name for entry in entries if _remove_if_abandoned(Path(entry.path))]


def _remove_if_abandoned(path: Path) -> bool:
    folder = path.name.endswith(".partial")
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | (os.O_DIRECTORY if folder else 0)
    try:
        fd = os.open(path, flags)   # a link: ELOOP (or ENOTDIR), left alone
    except OSError:
        return False
    try:
        info = os.fstat(fd)
        if not (stat.S_ISDIR(info.st_mode) if folder else stat.S_ISREG(info.st_mode)):
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:   # its writer holds it (or this file system has no locks): left alone
            return False
        if not os.path.samestat(info, os.lstat(path)):   # replaced meanwhile: not the one looked at
            return False
        if folder and not _holds_marker(fd):   # a folder nasiam did not make: its name is not enough
            return False
        if folder:
            shutil.rmtree(path)   # follows no link inside
        else:
            os.unlink(path)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)   # a writer that made it meanwhile finds it gone (`_hold`) and makes another


@contextlib.contextmanager
def new_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Fill a directory that does not exist yet, all or nothing: the block writes into a hidden
    sibling (`.NAME.*.partial`), renamed to `path` when it ends without error and removed (with
    the folders it created above `path`) when it raises. A kill mid-way leaves only the hidden
    sibling, which the next `new_directory(path)` removes (`remove_abandoned`); a `path` that
    appeared meanwhile with files in it is refused (ENOTEMPTY, EEXIST)."""
    path = Path(path)
    if path.name in ("", ".."):   # `.`, `a/..`: no name to rename the filled folder to (EBUSY)
        raise ValueError(f"{path} names an existing folder through '.' or '..'; give the new folder's own name")
    created = [p for p in path.parents if not os.path.lexists(p)]   # innermost first
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_abandoned(path.parent, path.name)
        fd, tmp = _hidden_folder(path)
    except BaseException:
        _remove_empty(created)
        raise
    try:
        yield tmp
        os.rmdir(tmp / PARTIAL_MARKER)   # (a kill from here to the rename leaves a folder no cleaner takes)
        os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_empty(created)   # "all or nothing" includes the folders made to hold `path`
        raise
    finally:
        os.close(fd)   # held until renamed or removed
    _fsync_directory(path.parent)   # the rename itself survives a power cut


def _hidden_folder(path: Path) -> tuple[int, Path]:
    """A new `.NAME.<12 hex>.partial` beside `path`, holding only `PARTIAL_MARKER`, held (`_hold`)
    through `fd`."""
    while True:
        tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.partial"
        tmp.mkdir()   # the umask's permissions, as a plain mkdir of `path` would have (mkdtemp's are private)
        try:
            fd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:   # taken for abandoned at once: make another
            continue
        if _hold(fd):
            (tmp / PARTIAL_MARKER).mkdir()   # held already: no cleaner looks at it before it has it
            return fd, tmp
        os.close(fd)


def _holds_marker(fd: int) -> bool:
    """Whether the folder open as `fd` holds `PARTIAL_MARKER` (a folder, not a link)."""
    try:
        return stat.S_ISDIR(os.stat(PARTIAL_MARKER, dir_fd=fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _remove_empty(folders: list[Path]) -> None:
    """Remove `folders` (innermost first) that are still empty; any other is left as it is."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def _fsync_directory(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:   # some file systems refuse to sync a directory; the rename stands anyway
        pass
    finally:
        os.close(fd)
