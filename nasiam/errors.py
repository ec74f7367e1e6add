"""Errors a run can end with; each maps to a distinct exit code in the CLI. Here, below every
layer, because run directories are read outside the runner too (`nasiam.rundir`)."""
from __future__ import annotations


def shown(value: object, limit: int = 40) -> str:
    """`value` as an error message shows it: its repr, cut to about `limit` characters. A
    hostile input (a 4,000-digit width, a megabyte of text) is named, not echoed whole; an
    integer past the 4,300 digits Python's repr allows is described by its length."""
    if isinstance(value, int) and value.bit_length() > 3 * limit:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1:,} digits"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 10]}... ({len(text):,} characters)"


class RunError(RuntimeError):
    exit_code = 1


class CheckpointError(RunError):
    """A checkpoint is missing, corrupt, foreign, or from an incompatible configuration."""

    exit_code = 2


class NonFiniteLossError(RunError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""

    exit_code = 4

    def __init__(self, message: str, epoch: int, step: int):
        super().__init__(message)
        self.epoch, self.step = epoch, step


class CollapseError(RunError):
    """The searched heads' embeddings collapsed; the genotype is refused."""

    exit_code = 3


class RunDirLockedError(RunError):
    """Another live process owns the run directory (see nasiam.runner.lock)."""

    exit_code = 2


class RunInterrupted(RunError):
    """SIGINT, SIGTERM, SIGUSR1 or SIGHUP stopped the run at a step boundary, after a resumable
    checkpoint; the exit code is the shell's for that signal (128 + its number: 130, 143, 138, 129)."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum


class RunsFailedError(RunError):
    """`nasiam compare` finished what it could, but some of its runs failed or could not start
    (a search that collapsed leaves its rows nothing to train); the others are reported, and
    the same command runs the failed ones again."""

    exit_code = 6


class RemoteError(RunError):
    """A remote service (a W&B server, the Hugging Face Hub) could not be reached, or refused
    the credentials or the request; the message says which and what to do. Nothing local was
    changed, so it is an input problem (2), as a missing local file would be."""

    exit_code = 2
