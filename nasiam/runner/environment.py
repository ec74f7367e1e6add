"""What a run ran on, written into its `summary.json`.

Two runs of one configuration can differ by more than their seeds when PyTorch, timm or the
device changed between them (a long benchmark resumed in a later session on a freshly resolved
environment is the usual case). The record lets a reader see that from the run directory alone,
without trusting anyone's notes. Versions come from the installed distributions' metadata, so a
package that is not installed reads `None` instead of failing the run.
"""
from __future__ import annotations

import platform
from importlib import metadata
from typing import Any

import torch

__all__ = ["PACKAGES", "environment"]

# The distributions whose versions change what a run computes (numerics, augmentations, models).
PACKAGES = ("nasiam", "torch", "torchvision", "timm", "lightning-fabric", "numpy")


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def environment(device: torch.device | str = "cpu") -> dict[str, Any]:
    """Versions, device and thread count of this process, JSON-ready."""
    device = torch.device(device)
    record: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform(terse=True),
                              **{name: _version(name) for name in PACKAGES},
                              "torch": torch.__version__,   # with its build tag (+cu130, +cpu), which metadata drops
                              "device": device.type, "threads": torch.get_num_threads()}
    if device.type == "cuda":
        record.update(device_name=torch.cuda.get_device_name(device), cuda=torch.version.cuda,
                      cudnn=torch.backends.cudnn.version())
    return record
