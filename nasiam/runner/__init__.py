"""Runners: the training commands on Lightning Fabric (DDP, precision, checkpoints, logs)."""
from nasiam.runner.errors import CheckpointError, CollapseError, NonFiniteLossError, RunError

__all__ = ["CheckpointError", "CollapseError", "NonFiniteLossError", "RunError"]
