"""What a run ran on, written into its `summary.json`.

Two runs of one configuration can differ by more than their seeds when PyTorch, timm, the
device or nasiam's own code changed between them (a long benchmark resumed elsewhere, or run
from a frozen worktree while main moves on). The record shows that from the run directory
alone. A package that is not there reads `None` instead of failing the run.
"""
from __future__ import annotations

import platform
import subprocess
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

__all__ = ["PACKAGES", "code_version", "environment"]

# What changes what a run computes (numerics, augmentations, models): module -> distribution.
PACKAGES = {"nasiam": "nasiam", "torch": "torch", "torchvision": "torchvision", "timm": "timm",
            "lightning_fabric": "lightning-fabric", "numpy": "numpy"}


def _version(module: str, distribution: str) -> str | None:
    """The imported module's own `__version__` first (it keeps build tags such as torch's
    +cu130, and exists for a checkout on PYTHONPATH or a module inside another distribution, as
    lightning_fabric inside pytorch-lightning); else the distribution's metadata; else None."""
    version = getattr(sys.modules.get(module), "__version__", None)
    if version is not None:
        return str(version)
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


@lru_cache(maxsize=1)
def code_version() -> dict[str, Any] | None:
    """The git commit nasiam runs from and whether its tracked files differ from it, or None
    when nasiam is not a git checkout (an installed wheel: its version says what it is)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        def git(*args: str) -> str:
            return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=20,
                                  check=True).stdout.strip()
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def environment(device: torch.device | str = "cpu") -> dict[str, Any]:
    """Versions, device and thread count of this process, JSON-ready."""
    device = torch.device(device)
    record: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform(terse=True),
                              **{module: _version(module, dist) for module, dist in PACKAGES.items()},
                              "device": device.type, "threads": torch.get_num_threads(), "code": code_version()}
    if device.type == "cuda":
        record.update(device_name=torch.cuda.get_device_name(device), cuda=torch.version.cuda,
                      cudnn=torch.backends.cudnn.version())
    return record
