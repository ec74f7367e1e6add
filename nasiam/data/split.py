"""Seeded index splits: the bilevel search split, subsets, and class-balanced label subsets."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch


def _permutation(n: int, seed: int) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))


def search_split(n: int, arch_fraction: float = 0.5, seed: int = 0) -> tuple[list[int], list[int]]:
    """Disjoint (weight, architecture) halves of `range(n)` for bilevel search (DARTS trains
    the weights on one half and the architecture on the other). Same seed, same split."""
    if not 0.0 < arch_fraction < 1.0:
        raise ValueError(f"arch_fraction must be in (0, 1), got {arch_fraction}")
    if n < 2:
        raise ValueError(f"cannot split {n} samples into two non-empty halves")
    order = _permutation(n, seed).tolist()
    n_arch = min(max(1, round(n * arch_fraction)), n - 1)
    return sorted(order[n_arch:]), sorted(order[:n_arch])


def random_subset(n: int, size: int | None, seed: int = 0) -> list[int]:
    """`size` indices of `range(n)` drawn without replacement (all of them if size is None)."""
    if size is None or size >= n:
        return list(range(n))
    if size < 1:
        raise ValueError(f"subset size must be positive, got {size}")
    return sorted(_permutation(n, seed)[:size].tolist())


def class_balanced_subset(targets: Sequence[int], fraction: float, seed: int = 0) -> list[int]:
    """A `fraction` of the labelled indices, the same share of every class (at least one per
    class): the 1 % / 10 % label subsets of semi-supervised evaluation."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    targets = np.asarray(targets)
    g = torch.Generator().manual_seed(seed)
    chosen: list[int] = []
    for c in np.unique(targets[targets >= 0]):
        members = np.flatnonzero(targets == c)
        k = max(1, round(len(members) * fraction))
        order = torch.randperm(len(members), generator=g)[:k].numpy()
        chosen.extend(members[order].tolist())
    return sorted(chosen)
