"""Collapse monitoring for SSL embeddings.

A siamese method collapses when every image maps to (nearly) the same embedding. Two
signals, both computed on a batch of projector outputs:

* `normalized_std`: the per-dimension std of the L2-normalised embeddings, averaged over
  dimensions and multiplied by sqrt(d). About 1 for embeddings spread over the sphere, 0 for
  full collapse (the SimSiam paper's diagnostic, rescaled to be width-independent).
* `effective_rank`: exp of the entropy of the normalised singular values of the centred
  embeddings (Roy & Vetterli, 2007): how many directions the batch really uses, 1 when
  collapsed to a line (dimensional collapse), up to min(batch, d).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor


def normalized_std(z: Tensor) -> float:
    z = F.normalize(z.float(), dim=1)
    return float(z.std(dim=0).mean() * z.shape[1] ** 0.5)


def effective_rank(z: Tensor) -> float:
    z = z.float() - z.float().mean(dim=0, keepdim=True)
    s = torch.linalg.svdvals(z)
    if s.sum() <= 0:
        return 1.0
    p = s / s.sum()
    entropy = -(p * torch.log(p.clamp_min(1e-12))).sum()
    return float(torch.exp(entropy))


@dataclass(frozen=True)
class CollapseReport:
    normalized_std: float
    effective_rank: float
    collapsed: bool

    def describe(self) -> str:
        return (f"normalised embedding std {self.normalized_std:.3f} (healthy ~1, collapsed 0), "
                f"effective rank {self.effective_rank:.1f}")


class CollapseMonitor:
    """Accumulates recent embeddings and judges collapse.

    Args:
        max_samples: embeddings kept (most recent), to bound memory and the SVD.
        min_std: below this normalised std the run counts as collapsed.
        min_rank: below this effective rank the run counts as collapsed.
    """

    def __init__(self, max_samples: int = 2048, min_std: float = 0.05, min_rank: float = 2.0):
        self.max_samples, self.min_std, self.min_rank = max_samples, min_std, min_rank
        self._chunks: list[Tensor] = []
        self._count = 0

    def update(self, z: Tensor) -> None:
        # kept on z's device: a copy to the host every step would wait for the GPU each time
        self._chunks.append(z.detach())
        self._count += len(z)
        while self._count - len(self._chunks[0]) >= self.max_samples:
            self._count -= len(self._chunks.pop(0))

    def reset(self) -> None:
        self._chunks, self._count = [], 0

    def state_dict(self) -> dict[str, Any]:
        """The embeddings kept and their count: saved mid-epoch and restored by
        `load_state_dict`, the monitor reports (and trims) as in an uninterrupted run."""
        return {"chunks": list(self._chunks), "count": self._count}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._chunks, self._count = list(state["chunks"]), int(state["count"])

    def report(self) -> CollapseReport | None:
        if not self._chunks:
            return None
        z = torch.cat([c.float().cpu() for c in self._chunks])[-self.max_samples:]
        if not bool(torch.isfinite(z).all()):   # no SVD of NaNs: a diverged run reads as collapsed
            return CollapseReport(float("nan"), float("nan"), collapsed=True)
        std, rank = normalized_std(z), effective_rank(z)
        return CollapseReport(std, rank, collapsed=std < self.min_std or rank < self.min_rank)
