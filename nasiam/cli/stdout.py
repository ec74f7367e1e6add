"""Standard output's own write errors, told from an output file's.

A write to stdout that fails (`nasiam compare --report_only > /dev/full`: ENOSPC) raises an
OSError naming no file, as a failed write() of any file does: the CLI described it as an output
file's, "the disk is full while writing outputs ... choose another --out_dir" (#33 probe 8, E4).
While the CLI runs (its help and version included), `sys.stdout` is wrapped so that its errors
are raised as `StandardOutputError`, which the CLI names as standard output's, and text its
encoding cannot hold is written escaped rather than raising UnicodeEncodeError. The wrapper also
keeps the first error raised, for the CLI to report after a caller dropped it: argparse prints
its help and version with `except OSError: pass`, so `nasiam --help > /dev/full` exited 0 (#33
probe 9, F3). A standard output closed from the start (`>&-`) is one that cannot be written, as
/dev/full is: each write fails, named as such (exit 5).
"""
from __future__ import annotations

import contextlib
import errno
import io
import sys
from typing import Any, Iterator

__all__ = ["StandardOutputError", "marked_stdout", "standard_output_message", "stderr_or_nowhere"]


class StandardOutputError(OSError):
    """A write or flush of standard output failed (not a closed pipe: that stays BrokenPipeError)."""


class _MarkedStream:
    """`stream` as it is, but for the OSErrors of its writes, raised as StandardOutputError;
    `lost` keeps the first one raised (or BrokenPipeError), even where the caller dropped it."""

    def __init__(self, stream: Any):
        self._stream = stream
        self.lost: OSError | None = None

    def write(self, text: str) -> int:
        with self._marked():
            try:
                return self._stream.write(text)
            except UnicodeEncodeError:   # a report's ± or — to an ASCII or Latin-1 stdout (#33 probe 12, I1)
                self._stream.write(self._escaped(text))
                return len(text)

    @property
    def closed_from_start(self) -> bool:
        """Whether this is a standard output closed before nasiam started (`>&-`)."""
        return isinstance(self._stream, _Closed)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def _escaped(self, text: str) -> str:
        """`text` with what stdout's encoding cannot hold written as escapes (`\\xb1`): the copy on
        the terminal only; the files on disk (results.md) stay UTF-8."""
        encoding = getattr(self._stream, "encoding", None) or "ascii"
        return text.encode(encoding, "backslashreplace").decode(encoding)

    def flush(self) -> None:
        with self._marked():
            self._stream.flush()

    @contextlib.contextmanager
    def _marked(self) -> Iterator[None]:
        try:
            yield
        except (BrokenPipeError, StandardOutputError) as e:   # a reader that left: the CLI's own quiet exit
            self.lost = self.lost or e
            raise
        except OSError as e:
            marked = StandardOutputError(e.errno, e.strerror)
            self.lost = self.lost or marked
            raise marked from e

    def __getattr__(self, name: str) -> Any:   # fileno, isatty, encoding, buffer, ...
        return getattr(self._stream, name)


class _Closed(io.TextIOBase):
    """Standard output closed from the start (`>&-`: Python sets `sys.stdout` to None): each
    write fails as one to a closed descriptor does (EBADF). Left None, print() dropped a
    report and argparse sent the help to stderr, both exiting 0 where `> /dev/full` exits 5
    (#33 probe 13, J9)."""

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, "it is closed")


@contextlib.contextmanager
def marked_stdout() -> Iterator[_MarkedStream]:
    """`sys.stdout` raising StandardOutputError for its write errors, for the block's duration;
    restored after (unless the block replaced it: then that is left). Yields the wrapper, whose
    `lost` is the first write error, reported or not. A stdout closed from the start (None)
    is wrapped as one whose every write fails (`_Closed`)."""
    original = sys.stdout
    marked = _MarkedStream(_Closed() if original is None else original)
    sys.stdout = marked
    try:
        yield marked
    finally:
        if sys.stdout is marked:
            sys.stdout = original


class _Nowhere(io.TextIOBase):
    """A text stream that takes every write and keeps nothing."""

    def write(self, text: str) -> int:
        return len(text)


@contextlib.contextmanager
def stderr_or_nowhere() -> Iterator[None]:
    """`sys.stderr` as it is, or, where it is closed (`2>&-`: Python sets it to None), a stream
    that drops what it is given, for the block's duration: `print(..., file=sys.stderr)` with
    None prints to stdout, so error messages landed in a report or a pipe, and with stdout full
    too the CLI's own message failed there (exit 1, not 5: #33 probe 11, H6). Nothing can be
    said with stderr closed; the exit code still says it."""
    if sys.stderr is not None:
        yield
        return
    sys.stderr = _Nowhere()
    try:
        yield
    finally:
        if isinstance(sys.stderr, _Nowhere):
            sys.stderr = None


def standard_output_message(e: OSError, kept: str) -> str:
    """The CLI's message for `e`, standard output's write error: the stream named, no output option."""
    from nasiam.errors import shown_path

    if e.errno == errno.EBADF:   # closed (`>&-`): no space to free, a stream to give
        return (f"standard output is closed (`>&-`); {kept}. Give the command a standard output to write to "
                "(`> /dev/null` discards it)")
    reason = shown_path(e.strerror) if e.strerror else f"errno {e.errno}"
    return (f"standard output cannot be written ({reason}); {kept}. Send it where it can be written (free space "
            "there, or redirect it elsewhere)")
