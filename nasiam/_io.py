"""File writing that never leaves a half-written file where a good one stood."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

# What open(path, "w") asks for: the process's umask then decides who may read the file, as it
# does for every other file a user writes (on a shared cluster a group-readable run is often the
# point). nasiam writes no secrets (tokens stay with huggingface_hub and wandb), so nothing here
# narrows it further. tempfile.mkstemp would create every file 0600, whatever the umask.
FILE_MODE = 0o666


def _create_temporary(directory: Path, name: str) -> tuple[int, Path]:
    """A new file beside `name`, opened for writing, created with FILE_MODE less the umask."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    while True:
        tmp = directory / f".{name}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(tmp, flags, FILE_MODE), tmp
        except FileExistsError:   # O_EXCL: another writer's temporary file; draw another name
            continue


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` via a temporary file in the same directory and `os.replace`.

    A crash, a full disk or a kill at any point leaves either the old file or the new one,
    never a truncated mix; the temporary file is removed on failure. The file's mode is
    0666 less the umask, as for open(path, "w").
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temporary(path.parent, path.name)
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
