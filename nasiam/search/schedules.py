"""Schedules used during a search: learning rate, EMA momentum, Gumbel temperature."""
from __future__ import annotations

import math


def cosine(start: float, end: float, progress: float) -> float:
    """From `start` at progress 0 to `end` at progress 1 along a half cosine."""
    progress = min(max(progress, 0.0), 1.0)
    return end + (start - end) * 0.5 * (1 + math.cos(math.pi * progress))


def warmup_cosine_lr(base_lr: float, step: int, total_steps: int, warmup_steps: int = 0, final_lr: float = 0.0) -> float:
    """Linear warm-up then cosine decay (SimSiam/SimCLR/MoCo recipes)."""
    if warmup_steps and step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    return cosine(base_lr, final_lr, (step - warmup_steps) / max(1, total_steps - warmup_steps))


def momentum_schedule(base: float, step: int, total_steps: int, kind: str = "cosine") -> float:
    """EMA momentum of the target encoder: constant (MoCo v2) or cosine up to 1 (MoCo v3, BYOL)."""
    if kind == "constant":
        return base
    if kind == "cosine":
        return cosine(base, 1.0, step / max(1, total_steps))
    raise ValueError(f"unknown momentum schedule {kind!r}; use 'cosine' or 'constant'")


def gumbel_tau(tau_max: float, tau_min: float, step: int, total_steps: int) -> float:
    """GDAS anneals the Gumbel-softmax temperature linearly from tau_max to tau_min."""
    progress = min(max(step / max(1, total_steps - 1), 0.0), 1.0)
    return tau_max - (tau_max - tau_min) * progress
