"""The errors a run can end with, defined in `nasiam.errors` (below every layer that raises them)."""
from nasiam.errors import (
    CheckpointError,
    CollapseError,
    NonFiniteLossError,
    RemoteError,
    RunDirLockedError,
    RunError,
    RunInterrupted,
)

__all__ = ["RunError", "CheckpointError", "NonFiniteLossError", "CollapseError", "RunDirLockedError", "RunInterrupted",
           "RemoteError"]
