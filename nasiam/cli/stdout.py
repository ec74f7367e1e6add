"""Standard output's own write errors, told from an output file's.

A write to stdout that fails (`nasiam compare --report_only > /dev/full`: ENOSPC) raises an
OSError naming no file, as a failed write() of any file does: the CLI described it as an output
file's, "the disk is full while writing outputs ... choose another --out_dir" (#33 probe 8, E4).
While a command runs, `sys.stdout` is wrapped so that its errors are raised as
`StandardOutputError`, which the CLI names as standard output's.
"""
from __future__ import annotations

import contextlib
import sys
from typing import Any, Iterator

__all__ = ["StandardOutputError", "marked_stdout", "standard_output_message"]


class StandardOutputError(OSError):
    """A write or flush of standard output failed (not a closed pipe: that stays BrokenPipeError)."""


class _MarkedStream:
    """`stream` as it is, but for the OSErrors of its writes, raised as StandardOutputError."""

    def __init__(self, stream: Any):
        self._stream = stream

    def write(self, text: str) -> int:
        with _marked():
            return self._stream.write(text)

    def writelines(self, lines) -> None:
        with _marked():
            self._stream.writelines(lines)

    def flush(self) -> None:
        with _marked():
            self._stream.flush()

    def __getattr__(self, name: str) -> Any:   # fileno, isatty, encoding, buffer, ...
        return getattr(self._stream, name)


@contextlib.contextmanager
def _marked() -> Iterator[None]:
    try:
        yield
    except (BrokenPipeError, StandardOutputError):   # a reader that left: the CLI's own quiet exit
        raise
    except OSError as e:
        raise StandardOutputError(e.errno, e.strerror) from e


@contextlib.contextmanager
def marked_stdout() -> Iterator[None]:
    """`sys.stdout` raising StandardOutputError for its write errors, for the block's duration;
    restored after (unless the block replaced it: then that is left)."""
    original = sys.stdout
    if original is None:
        yield
        return
    marked = _MarkedStream(original)
    sys.stdout = marked
    try:
        yield
    finally:
        if sys.stdout is marked:
            sys.stdout = original


def standard_output_message(e: OSError, kept: str) -> str:
    """The CLI's message for `e`, standard output's write error: the stream named, no output option."""
    from nasiam.errors import shown_path

    reason = shown_path(e.strerror) if e.strerror else f"errno {e.errno}"
    return (f"standard output cannot be written ({reason}); {kept}. Send it where it can be written (free space "
            "there, or redirect it elsewhere)")
