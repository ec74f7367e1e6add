"""The search policy: when the architecture logits step and how hard, with one set of defaults.

Every driver uses it: `nasiam search` (`nasiam.runner.search`), `NASSearchCallback` (Lightning)
and your own loop (through `ArchitectureOptimizer`). A driver decides only how batches arrive;
the policy decides the rest:

* warm-up: the first `warmup_epochs` train only the weights (the heads' weights must mean
  something before their architecture is judged);
* `arch_every`: the logits step on every N-th optimizer step;
* `arch_steps_per_step`: that many updates each time, on the last N architecture batches
  (`Architect` reuses their cached backbone features: N head-only passes, no extra backbone
  forward), for more architecture steps than weight steps; by default 4 where the search is
  first-order bilevel, 1 where it cannot be (joint, second-order);
* Beta-Decay (Ye et al., CVPR 2022) at `beta_weight`, ramped linearly over training or constant;
* Adam on the logits (`lr`, `betas`, `weight_decay`) on the RMS-normalised loss gradient
  (`normalize`, see `nasiam.search.update.update_logits`).

The defaults are the CLI's measured ones (benchmarks/RESULTS.md): lr 0.03, Adam's betas (0.9,
0.999) and 4 updates per step. DARTS' own 3e-4 assumes ~20k architecture steps; a logit moves at
most about `lr` per step, so searches of a few hundred steps need more. On the CPU demo's search
the search-signal screen (RESULTS.md, "Search signal") found 4 updates per step with beta1 0.9
raising the decisions above their noise floor from 2.3 to 3.7 of 8 (3 seeds) at 1.03x the time,
over DARTS' beta1 0.5 with one update.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

__all__ = ["SearchPolicy", "BETA_SCHEDULES"]

BETA_SCHEDULES = ("linear", "constant")
DEFAULT_UPDATES_PER_STEP = 4   # first-order bilevel search (the search-signal screen, RESULTS.md)


@dataclass(frozen=True)
class SearchPolicy:
    """When and how the architecture logits are updated (see the module docstring).

    Args:
        lr, betas, weight_decay: Adam on the logits.
        beta_weight: Beta-Decay weight, relative to the normalised loss gradient (0: off).
        beta_schedule: "linear" ramps it from 0 at the start of training to `beta_weight` at
            the end (beta-DARTS); "constant" keeps it.
        normalize: divide the loss gradient by its RMS over all logits before the regulariser.
        warmup_epochs: epochs that train only the weights.
        arch_every: the logits step on optimizer steps 0, N, 2N, ... once the warm-up is over.
        arch_steps_per_step: updates of the logits each time they step, one per architecture
            batch among the last N (first-order bilevel search only: a joint step has one
            gradient, a second-order one needs its own weight batch). None: 4 where the search
            is first-order bilevel, else 1 (`updates_per_step`).
    """

    lr: float = 0.03
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    beta_weight: float = 0.5
    beta_schedule: str = "linear"
    normalize: bool = True
    warmup_epochs: int = 1
    arch_every: int = 1
    arch_steps_per_step: int | None = None

    def __post_init__(self) -> None:
        if not self.lr > 0:
            raise ValueError(f"the architecture learning rate must be positive, got {self.lr}")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas}")
        object.__setattr__(self, "betas", (float(self.betas[0]), float(self.betas[1])))
        if self.weight_decay < 0 or self.beta_weight < 0:
            raise ValueError(f"weight_decay and beta_weight must be non-negative, got {self.weight_decay}, "
                             f"{self.beta_weight}")
        if self.beta_schedule not in BETA_SCHEDULES:
            raise ValueError(f"beta_schedule must be one of {', '.join(BETA_SCHEDULES)}, got {self.beta_schedule!r}")
        for name, low in (("warmup_epochs", 0), ("arch_every", 1), ("arch_steps_per_step", 1)):
            value = getattr(self, name)
            if value is None and name == "arch_steps_per_step":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")

    def replace(self, **changes) -> "SearchPolicy":
        """A copy with some settings changed (`dataclasses.replace`, validated again)."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise TypeError(f"unknown search policy setting(s) {', '.join(unknown)}; the settings are "
                            f"{', '.join(f.name for f in dataclasses.fields(self))}")
        return dataclasses.replace(self, **changes)

    def updates_per_step(self, bilevel_first_order: bool) -> int:
        """Updates of the logits each time they step: `arch_steps_per_step`, or by default
        `DEFAULT_UPDATES_PER_STEP` where the search can take several (first-order bilevel) and 1
        where it cannot. An explicit N > 1 where it cannot is refused."""
        if self.arch_steps_per_step is None:
            return DEFAULT_UPDATES_PER_STEP if bilevel_first_order else 1
        if self.needs_first_order_bilevel() and not bilevel_first_order:
            raise ValueError(f"arch_steps_per_step={self.arch_steps_per_step} needs first-order bilevel search: a "
                             "joint step has only its own batch's gradient, a second-order one unrolls one weight "
                             "batch per update; leave it unset (None) or use 1")
        return self.arch_steps_per_step

    def needs_first_order_bilevel(self) -> bool:
        """Whether these settings ask for several updates per step, which only a first-order
        bilevel search can take (the rule `updates_per_step` and the CLI's check apply)."""
        return (self.arch_steps_per_step or 1) > 1

    def searches_within(self, epochs: int) -> bool:
        """Whether a run of `epochs` epochs leaves any after the warm-up for the logits to train."""
        return epochs > self.warmup_epochs

    def due(self, epoch: int, step: int) -> bool:
        """Whether the logits step at optimizer step `step` (counted from 0 over the whole
        run) of epoch `epoch`."""
        return epoch >= self.warmup_epochs and step % self.arch_every == 0

    def beta(self, progress: float | None) -> float:
        """The Beta-Decay weight at `progress`, the share of training done (0 to 1); None (a
        loop that does not know its length) gives the full weight."""
        if self.beta_schedule == "constant" or progress is None:
            return self.beta_weight
        return self.beta_weight * min(1.0, max(0.0, progress))
