"""The search loop's shared part: what `nasiam search` (through `Architect`) and
`NASSearchCallback` (Lightning) do alike, written once.

A driver only says how batches arrive; `SearchDriver` then decides the rest, from the
`SearchPolicy`:

* `due(epoch, step)`: whether the logits step now (the warm-up, then every `arch_every`-th
  optimizer step);
* `replay(arch, item, loss, progress)`: keep the architecture batch `item` (its cached backbone
  features, or the raw batch) among the last N and take one update on each, newest first (the
  policy's `arch_steps_per_step`, refused where the search is not first-order bilevel);
  returns the update's metrics averaged over the N;
* `noise_verdict(rows)`: how many decisions rose above their noise floor, against how many
  noise alone would pass, under the names both log (`eval/decisions_above_noise`,
  `eval/decisions`); the per-epoch probabilities are `probability_metrics` (`prob/...`).
"""
from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from torch import Tensor

from nasiam.search.decisions import NOISE_QUANTILE
from nasiam.search.policy import SearchPolicy

__all__ = ["SearchDriver", "NoiseVerdict", "noise_verdict"]


class SearchDriver:
    """When the logits step and on which recent batches (see the module docstring).

    Args:
        policy: the search policy.
        bilevel_first_order: whether each update may use a batch of its own (first-order
            bilevel search): only then does the policy allow N > 1 updates per step.
    """

    def __init__(self, policy: SearchPolicy, *, bilevel_first_order: bool):
        self.policy = policy
        # the last N architecture batches, each worth one more update
        self.recent: collections.deque = collections.deque(maxlen=policy.updates_per_step(bilevel_first_order))

    @property
    def updates(self) -> int:
        """Updates of the logits each time they step (the policy's N)."""
        return self.recent.maxlen

    def due(self, epoch: int, step: int) -> bool:
        """Whether the logits step at optimizer step `step` (from 0 over the run) of `epoch`."""
        return self.policy.due(epoch, step)

    def replay(self, arch, item: Any, loss: Callable[[Any], Tensor], progress: float | None) -> dict[str, float]:
        """Add `item` to the recent batches and update the logits once on each, newest first,
        through `arch` (an `ArchitectureOptimizer`), with `loss(item)` the architecture loss.
        Returns the metrics averaged over the updates (a metric only some updates report, as
        "arch_skipped", is left out)."""
        self.recent.append(item)
        results = [arch.step(lambda i=i: loss(i), progress) for i in reversed(self.recent)]
        return {k: sum(r[k] for r in results) / len(results) for k in results[-1] if all(k in r for r in results)}


@dataclass(frozen=True)
class NoiseVerdict:
    """How many of a search's decisions rose above their noise floor.

    `chance` is how many pass on noise alone (1 in 20 of them); `mostly_noise` when no more
    than that (or than one) did: the genotype is then mostly noise's choice."""

    above: int
    decisions: int

    @property
    def chance(self) -> float:
        return (1 - NOISE_QUANTILE) * self.decisions

    @property
    def mostly_noise(self) -> bool:
        return self.above <= max(1.0, self.chance)

    def metrics(self) -> dict[str, int]:
        """Logged as `eval/<name>` by `nasiam search` and by the Lightning callback."""
        return {"decisions_above_noise": self.above, "decisions": self.decisions}


def noise_verdict(rows: Sequence[Mapping[str, Any]]) -> NoiseVerdict:
    """The verdict on decision rows (`ArchitectureOptimizer.decisions`); rows without a noise
    floor (a multi-trial search's) count as not above it."""
    return NoiseVerdict(sum(bool(r.get("above_noise")) for r in rows), len(rows))
