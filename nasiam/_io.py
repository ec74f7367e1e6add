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


def _create_temporary(directory: Path, name: str) -> tuple[int, Path]:
    """A new file beside `name`, opened for writing, created with FILE_MODE less the umask."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    while True:
        tmp = directory / f".{name}.{secrets.token_hex(4)}{TEMPORARY_SUFFIX}"
        try:
            return os.open(tmp, flags, FILE_MODE), tmp
        except FileExistsError:   # O_EXCL: another writer's temporary file; draw another name
            continue


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
        os.replace(tmp, path)
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


def is_within(path: str | os.PathLike, folder: str | os.PathLike) -> bool:
    """Whether `path` is `folder` or inside it, links resolved on both sides."""
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def not_a_file(path: str | os.PathLike) -> str | None:
    """What `path` is when it is there but not a regular file ("a folder", "a FIFO, socket or
    device", "a dangling symbolic link"), from its metadata alone: opening a FIFO to find out
    would block until a writer comes. None for a regular file, or nothing there."""
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


@contextlib.contextmanager
def new_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Fill a directory that does not exist yet, all or nothing: the block writes into a hidden
    sibling (`.NAME.*.partial`), renamed to `path` when it ends without error and removed (with
    the folders it created above `path`) when it raises. A kill mid-way leaves only the hidden
    sibling; a `path` that appeared meanwhile with files in it is refused (ENOTEMPTY, EEXIST)."""
    path = Path(path)
    if path.name in ("", ".."):   # `.`, `a/..`: no name to rename the filled folder to (EBUSY)
        raise ValueError(f"{path} names an existing folder through '.' or '..'; give the new folder's own name")
    created = [p for p in path.parents if not os.path.lexists(p)]   # innermost first
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.partial"
        tmp.mkdir()   # the umask's permissions, as a plain mkdir of `path` would have (mkdtemp's are private)
    except BaseException:
        _remove_empty(created)
        raise
    try:
        yield tmp
        os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_empty(created)   # "all or nothing" includes the folders made to hold `path`
        raise
    _fsync_directory(path.parent)   # the rename itself survives a power cut


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
