"""Errors a run can end with; each maps to a distinct exit code in the CLI."""
from __future__ import annotations


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
