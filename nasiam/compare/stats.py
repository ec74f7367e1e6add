"""Statistics of a paired comparison: seeds pair the runs (same subset, init and
augmentations), so each head is compared through its per-seed differences.

Plain Python (no scipy): the Student t quantiles the 95 % intervals need are tabulated.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Sequence

__all__ = ["PairedDifference", "paired_difference", "t_quantile_975", "spearman", "mean_std", "paired_power",
           "seeds_for_power"]

# Two-sided 95 % critical values of Student's t, t_{0.975, df} for df = 1..30
# (any statistics table; checked against scipy.stats.t.ppf in the tests when scipy is there).
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
         2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t_quantile_975(df: int) -> float:
    """t_{0.975, df}; beyond df = 30 a Cornish-Fisher expansion around the normal quantile
    (error below 1e-3)."""
    if df < 1:
        raise ValueError("a t interval needs at least 2 paired values (1 degree of freedom)")
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959964
    return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)


def mean_std(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (None for one value: no spread was measured)."""
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


@dataclass(frozen=True)
class PairedDifference:
    """head - reference over the seeds both have."""

    n: int
    mean: float
    std: float | None
    ci_low: float | None         # 95 % t interval of the mean difference
    ci_high: float | None
    wins: int                    # seeds where the head is strictly better
    t: float | None

    def describe(self, digits: int = 2) -> str:
        better = f"better on {self.wins}/{self.n}"
        if self.ci_low is None:
            return f"{self.mean:+.{digits}f} (n={self.n}, no interval), {better}"
        return f"{self.mean:+.{digits}f} [{self.ci_low:+.{digits}f}, {self.ci_high:+.{digits}f}], {better}"


def paired_difference(head: dict[int, float], reference: dict[int, float]) -> PairedDifference | None:
    """The per-seed differences head[seed] - reference[seed] over the common seeds, with a
    95 % t interval of their mean; None when no seed is common."""
    seeds = sorted(set(head) & set(reference))
    if not seeds:
        return None
    diffs = [head[s] - reference[s] for s in seeds]
    mean, std = mean_std(diffs)
    wins = sum(d > 0 for d in diffs)
    if std is None:
        return PairedDifference(len(diffs), mean, None, None, None, wins, None)
    half = t_quantile_975(len(diffs) - 1) * std / math.sqrt(len(diffs))
    t = mean / (std / math.sqrt(len(diffs))) if std > 0 else (math.inf if mean > 0 else -math.inf if mean < 0 else 0.0)
    return PairedDifference(len(diffs), mean, std, mean - half, mean + half, wins, t)


def _ranks(values: Sequence[float]) -> list[float]:
    """Ranks starting at 1, ties sharing their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rank correlation (Pearson's on the ranks, ties averaged); None when fewer
    than 3 pairs or a constant side."""
    if len(x) != len(y):
        raise ValueError("spearman needs two sequences of the same length")
    if len(x) < 3:
        return None
    rx, ry = _ranks(x), _ranks(y)
    mx, my = statistics.fmean(rx), statistics.fmean(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sx = math.sqrt(sum((a - mx) ** 2 for a in rx))
    sy = math.sqrt(sum((b - my) ** 2 for b in ry))
    if sx == 0 or sy == 0:
        return None
    return sxy / (sx * sy)


def _normal_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def paired_power(effect: float, sd: float, n: int) -> float:
    """Power of the two-sided paired t-test at the 5 % level with `n` seeds, by the normal
    approximation to the non-central t: Phi(effect sqrt(n) / sd - t_{0.975, n-1})."""
    if n < 2:
        return 0.0
    if sd <= 0:
        return 1.0 if effect != 0 else 0.0
    return _normal_cdf(abs(effect) * math.sqrt(n) / sd - t_quantile_975(n - 1))


def seeds_for_power(effect: float, sd: float, power: float = 0.8, max_seeds: int = 10_000) -> int | None:
    """The fewest paired seeds giving `power` to detect `effect` (None: more than `max_seeds`)."""
    if effect == 0:
        return None
    for n in range(2, max_seeds + 1):
        if paired_power(effect, sd, n) >= power:
            return n
    return None
