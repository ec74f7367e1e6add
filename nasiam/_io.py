"""File and folder writing that never leaves a half-written file or folder where a good one stood."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Iterator


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` via a temporary file in the same directory and `os.replace`.

    A crash, a full disk or a kill at any point leaves either the old file or the new one,
    never a truncated mix; the temporary file is removed on failure.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def new_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Fill a directory that does not exist yet, all or nothing: the block writes into a hidden
    temporary sibling (`.NAME.*.partial`), renamed to `path` when it ends without error and
    removed when it raises (an error, a full disk, Ctrl-C). `path` thus either does not exist
    or holds everything; a kill mid-way leaves only the hidden sibling. The rename refuses a
    `path` that appeared meanwhile with files in it (OSError ENOTEMPTY or EEXIST)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.partial"
    tmp.mkdir()   # the umask's permissions, as a plain mkdir of `path` would have (mkdtemp's are private)
    try:
        yield tmp
        os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_directory(path.parent)   # the rename itself survives a power cut


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
