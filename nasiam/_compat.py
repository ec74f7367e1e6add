"""The private APIs of PyTorch and Lightning Fabric that nasiam relies on, in one place.

Each is looked up when used and, if a release has removed it, raises `PrivateAPIError` naming
the API, the installed version and the versions nasiam is tested with, instead of an
AttributeError deep in a run or, worse, a resume that silently continues in another order.
"""
from __future__ import annotations

import sys
from typing import Any, Iterable

__all__ = ["PrivateAPIError", "ddp_ignore", "fabric_loader_passes", "set_fabric_loader_passes"]

# Where each private API is known to exist (tests/test_compat.py checks the installed versions).
TESTED = {"torch": "2.4 - 2.14", "lightning_fabric": "2.4 - 2.6"}


class PrivateAPIError(RuntimeError):
    """A private API nasiam uses is missing from the installed version of its package."""


def _gone(package: str, api: str, purpose: str) -> PrivateAPIError:
    module = sys.modules.get(package)
    version = getattr(module, "__version__", "unknown")
    return PrivateAPIError(f"{package} {version} has no {api}, which nasiam uses {purpose}; nasiam is tested with "
                           f"{package} {TESTED[package]}: install one of those versions, or report this to nasiam")


def ddp_ignore(module: Any, names: Iterable[str]) -> None:
    """Keep the parameters and buffers `names` of `module` out of DistributedDataParallel's
    gradient all-reduce (added to those already ignored), before DDP wraps `module`:
    DDP's private `_set_params_and_buffers_to_ignore_for_model`."""
    import torch  # noqa: F401 (its version for the message)
    from torch.nn.parallel import DistributedDataParallel

    ignore = getattr(DistributedDataParallel, "_set_params_and_buffers_to_ignore_for_model", None)
    if ignore is None:
        raise _gone("torch", "DistributedDataParallel._set_params_and_buffers_to_ignore_for_model",
                    "to keep the architecture logits out of DDP's all-reduce")
    ignored = list(getattr(module, "_ddp_params_and_buffers_to_ignore", []))
    ignore(module, ignored + [n for n in names if n not in ignored])


def fabric_loader_passes(loader: Any) -> int | None:
    """How many passes Fabric's loader wrapper has started (its private `_num_iter_calls`, which
    it gives its DistributedSampler as the epoch); None for a loader that is not Fabric's (a
    plain DataLoader, whose shuffle the global RNG decides)."""
    count = getattr(loader, "_num_iter_calls", None)
    if isinstance(count, int):
        return count
    wrappers = sys.modules.get("lightning_fabric.wrappers")
    if wrappers is not None and isinstance(loader, getattr(wrappers, "_FabricDataLoader", ())):
        raise _gone("lightning_fabric", "_FabricDataLoader._num_iter_calls",
                    "to resume a run mid-epoch in the same data order")
    return None


def set_fabric_loader_passes(loader: Any, count: int) -> None:
    """Make Fabric's loader wrapper start its next pass as pass `count` (a no-op for others)."""
    if fabric_loader_passes(loader) is not None:
        loader._num_iter_calls = count
