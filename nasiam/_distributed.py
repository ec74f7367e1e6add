"""Whether torch.distributed runs with more than one process, and this process's place in it;
below every layer (the search, the losses and the runner ask)."""
from __future__ import annotations

import torch.distributed as dist

__all__ = ["is_distributed", "rank", "world_size"]


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1
