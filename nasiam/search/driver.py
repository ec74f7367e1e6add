"""The search loop's shared part: what `nasiam search` (through `Architect`) and
`NASSearchCallback` (Lightning) do alike, written once.

A driver only says how batches arrive; `SearchDriver` then decides the rest from the
`SearchPolicy`: when the logits step (`due`), which recent architecture batches each step
replays (`replay`, `replay_encoded`; carried over a resume by `state_dict`), and the verdict on
the decisions against their noise floor (`noise_verdict`), under the metric names both log.
"""
from __future__ import annotations

import collections
import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import Tensor

from nasiam.search.decisions import NOISE_QUANTILE
from nasiam.search.policy import SearchPolicy

__all__ = ["ARCH_METRICS", "SearchDriver", "NoiseVerdict", "framework_of", "head_loss", "noise_verdict",
           "training_progress"]

# what an architecture step reports (`ArchitectureOptimizer.finish`), logged as `train/<name>`:
# averaged over a step's N updates, and by `nasiam search` over an epoch's architecture steps
ARCH_METRICS = ("arch_loss", "beta_decay", "arch_grad_rms", "arch_skipped")


def training_progress(step: int, total: float) -> float | None:
    """The share of training done at optimizer step `step` of `total` (the Beta-Decay ramp);
    None where the run's length is unknown (not finite, or not positive)."""
    return step / total if math.isfinite(total) and total > 0 else None


def framework_of(*modules: Any) -> Any | None:
    """The first of `modules` a search drives on cached features: one with `encode(views)` and
    `head_loss(encoded, update_state)` (every `SSLFramework`), or None."""
    return next((m for m in modules if hasattr(m, "encode") and hasattr(m, "head_loss")), None)


def head_loss(framework: Any, encoded: Any) -> Tensor:
    """The architecture loss of cached features through the heads of `framework`, its state (a
    MoCo queue) left alone: an architecture batch is no training batch."""
    return framework.head_loss(encoded, update_state=False)["loss"]


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

    def replay_encoded(self, arch, batch: Any, encode: Callable[[Any], Any], loss: Callable[[Any], Tensor],
                       progress: float | None) -> dict[str, float]:
        """`replay` on `encode(batch)`, run once without gradients (no graph: cached as it is):
        the backbone runs once per architecture batch and the N updates replay its features. An
        older batch's features are then the backbone's of up to N-1 weight steps ago."""
        with torch.no_grad():
            item = encode(batch)
        return self.replay(arch, item, loss, progress)

    def state_dict(self) -> dict[str, list]:
        """The recent batches, detached and on the CPU, oldest first, under "recent_features"
        (the key `nasiam search`'s checkpoints hold them under): tensors in lists, tuples and
        dicts, a dataclass (`Encoded`) as the dict of its fields, what `torch.load(...,
        weights_only=True)` reads back. A resumed search then takes the same updates as an
        uninterrupted one."""
        return {"recent_features": [_map_tensors(item, lambda t: t.detach().cpu()) for item in self.recent]}

    def load_state_dict(self, state: Mapping[str, Any], device: torch.device | str | None = None,
                        rebuild: Callable[[Any], Any] | None = None) -> None:
        """Restore the recent batches of `state` (`state_dict`'s; none where it has no
        "recent_features", as checkpoints of one update per step), their tensors moved to
        `device`, each passed through `rebuild` (say, `lambda d: Encoded(**d)` for a dataclass
        stored as a dict). Only the newest N are kept where the policy now takes fewer."""
        self.recent.clear()
        for item in list(state.get("recent_features", []))[-self.updates:]:
            item = item if device is None else _map_tensors(item, lambda t: t.to(device))
            self.recent.append(item if rebuild is None else rebuild(item))


def _map_tensors(item: Any, fn: Callable[[Tensor], Tensor]) -> Any:
    """`item` with `fn` applied to every tensor in it, in lists, tuples, mappings and dataclasses
    (a dataclass becomes the dict of its fields, a named tuple a plain tuple: what `torch.load(...,
    weights_only=True)` reads back)."""
    if isinstance(item, Tensor):
        return fn(item)
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        return {f.name: _map_tensors(getattr(item, f.name), fn) for f in dataclasses.fields(item)}
    if isinstance(item, Mapping):
        return {k: _map_tensors(v, fn) for k, v in item.items()}
    if isinstance(item, (list, tuple)):
        return (list if isinstance(item, list) else tuple)(_map_tensors(v, fn) for v in item)
    return item


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
