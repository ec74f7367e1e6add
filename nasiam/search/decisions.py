"""How far a search's decisions rose above what noise alone would give.

A decision is one choice of one layer (keep or skip, width, norm, activation). DARTS exports
the argmax of each, however weakly it won. SSL losses move the logits little, and Adam turns
even a pure-noise gradient into moves of about `lr` per step: after a few hundred steps noise
alone makes one option of a 2-way choice win with p ~ 0.6 and one of 8 with p ~ 0.2. So each
decision is compared with a *noise floor*: the same update (`nasiam.search.update.update_logits`:
normalisation, Beta-Decay ramp, centring, Adam with the policy's settings) run for the same
number of architecture steps on Gaussian gradients, many times; the floor is the 95th
percentile of the winning option's probability. A decision whose best option is above its
floor is one noise would give in fewer than 1 run in 20 ("above noise"); with 20 decisions,
about one passes by chance.

`decision_confidence` lists each decision's best option, its probability and entropy;
`decision_report` adds the noise floor. Across seeds, a real decision should also agree with
itself: `decision_agreement` gives, per decision, the share of searches on the most chosen
option beside the share uniform picks would reach (`chance_agreement`).
"""
from __future__ import annotations

import math
from collections import Counter
from fractions import Fraction
from typing import Any, Mapping, Sequence

import torch

from nasiam.search.policy import SearchPolicy
from nasiam.search.update import ChoiceLayout, update_logits

__all__ = ["NEAR_UNIFORM_RATIO", "NOISE_QUANTILE", "chance_agreement", "decision_agreement", "decision_confidence",
           "decision_report", "fall_back_to_prior", "head_probabilities", "near_uniform", "noise_floor",
           "probability_metrics"]

NEAR_UNIFORM_RATIO = 1.5   # a decision whose best option is below 1.5x the uniform probability is "near uniform"
NOISE_QUANTILE = 0.95


def head_probabilities(heads: Mapping[str, Any]) -> dict[str, list[dict[str, dict[Any, float]]]]:
    """`{slot: head.probabilities()}` of searchable heads by slot: what the functions here read."""
    return {slot: head.probabilities() for slot, head in heads.items()}


def probability_metrics(probabilities: Mapping[str, list[dict[str, dict[Any, float]]]]) -> dict[str, float]:
    """Every option's probability under the key both `nasiam search` and the Lightning callback
    log it as, `prob/<slot>/layer<i>/<choice>/<option>`, from `{slot: head.probabilities()}`:
    one name, so a dashboard compares runs of either."""
    return {f"prob/{slot}/layer{i}/{choice}/{option}": float(p) for slot, layers in probabilities.items()
            for i, choices in enumerate(layers) for choice, options in choices.items() for option, p in options.items()}


def decision_confidence(probabilities: Mapping[str, list[dict[str, dict[Any, float]]]]) -> list[dict[str, Any]]:
    """One row per decision: head, layer, choice, best option, its probability, the uniform
    probability 1/n, and the normalised entropy (0: decided, 1: uniform). `probabilities` is
    `{slot: head.probabilities()}`."""
    rows = []
    for slot, layers in probabilities.items():
        for index, choices in enumerate(layers):
            for choice, options in choices.items():
                n = len(options)
                if n < 2:
                    continue
                best, p = max(options.items(), key=lambda kv: kv[1])
                entropy = -sum(q * math.log(q) for q in options.values() if q > 0) / math.log(n)
                rows.append({"head": slot, "layer": index, "choice": choice, "option": best,
                             "probability": round(p, 4), "uniform": round(1 / n, 4),
                             "normalized_entropy": round(entropy, 4), "options": n})
    return rows


def near_uniform(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r["probability"] < NEAR_UNIFORM_RATIO * r["uniform"]]


@torch.no_grad()
def noise_floor(choice_sizes: Sequence[int], steps: int, policy: SearchPolicy | None = None,
                start_progress: float = 0.0, samples: int = 512, quantile: float = NOISE_QUANTILE,
                seed: int = 0) -> list[float]:
    """The `quantile` of the winning option's probability of each decision (one per entry of
    `choice_sizes`, its number of options) after `steps` architecture steps on pure noise.

    `samples` runs at once of the update `ArchitectureOptimizer.finish` takes
    (`nasiam.search.update.update_logits`), each step from a Gaussian loss gradient centred per
    decision (as a softmax's gradient is), with progress going linearly from `start_progress` to
    1 (where the warm-up ended). The noise is `torch.randn((samples, decisions, max options))`
    per step (padding unused) from a generator seeded with `seed`."""
    policy = policy or SearchPolicy()
    if len(choice_sizes) == 0 or steps <= 0:
        return [1.0 / int(n) for n in choice_sizes]
    layout = ChoiceLayout([int(n) for n in choice_sizes])
    generator = torch.Generator().manual_seed(seed)
    logits = torch.zeros(samples, *layout.mask.shape)
    moments = (torch.zeros_like(logits), torch.zeros_like(logits))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # thousands of tiny steps: one thread is faster than several
    try:
        for t in range(steps):
            noise = layout.centre(torch.randn(logits.shape, generator=generator) * layout.mask)   # as a softmax's gradient is
            progress = start_progress + (1.0 - start_progress) * t / max(1, steps - 1)
            logits, *moments, _ = update_logits(policy, layout, logits, noise, *moments, t, progress)
    finally:
        torch.set_num_threads(threads)
    winning = torch.softmax(logits.masked_fill(layout.padding, -math.inf), dim=-1).amax(-1)   # samples, decisions
    return [round(float(q), 4) for q in torch.quantile(winning, quantile, dim=0)]


def decision_report(probabilities: Mapping[str, list[dict[str, dict[Any, float]]]], arch_steps: int,
                    policy: SearchPolicy | None = None, start_progress: float = 0.0,
                    samples: int = 512) -> list[dict[str, Any]]:
    """`decision_confidence`'s rows, each with `noise_floor` (see `noise_floor`) and
    `above_noise` (the best option's probability is above it), for a search that took
    `arch_steps` architecture steps with `policy`, the first at `start_progress`."""
    rows = decision_confidence(probabilities)
    floors = noise_floor([r["options"] for r in rows], arch_steps, policy, start_progress, samples)
    for row, floor in zip(rows, floors):
        row["noise_floor"] = floor
        row["above_noise"] = bool(row["probability"] > floor)
    return rows


def fall_back_to_prior(rows: Sequence[Mapping[str, Any]], chosen: Mapping[str, Sequence[Mapping[str, Any]]],
                       prior: Mapping[str, Sequence[Mapping[str, Any]]]) -> tuple[dict[str, list[dict[str, Any]]],
                                                                                list[dict[str, Any]]]:
    """`chosen` (`{slot: [{choice: option}, ...]}`, each decision's argmax) with every decision
    that did not rise above its noise floor (`decision_report`'s rows) set to the prior's
    option, where the prior has one: noise does not get to pick. Returns the decisions and one
    record per decision below the floor: `fallback` the option taken instead (None: no prior,
    the argmax stays and is reported as found by nothing but noise)."""
    decided = {slot: [dict(layer) for layer in layers] for slot, layers in chosen.items()}
    records = []
    for row in rows:
        if row.get("above_noise"):
            continue
        slot, layer, choice = row["head"], int(row["layer"]), row["choice"]
        fallback = prior.get(slot, [])[layer].get(choice) if layer < len(prior.get(slot, [])) else None
        if fallback is not None:
            decided[slot][layer][choice] = fallback
        records.append({"head": slot, "layer": layer, "choice": choice, "argmax": row["option"],
                        "probability": row["probability"], "noise_floor": row.get("noise_floor"),
                        "fallback": fallback})
    return decided, records


def chance_agreement(options: int, runs: int) -> float:
    """The expected share of `runs` searches on the most chosen option of a decision with
    `options` options when each search picks uniformly at random: the level agreement must
    beat (1.0 for one run; 0.75 for two runs of a 2-way choice). Exact, from the multinomial:
    P(every count <= m) = runs! / options^runs x [x^runs] (sum_{j<=m} x^j / j!)^options; for
    very many runs a seeded simulation (within about 0.002)."""
    if options < 1 or runs < 1:
        raise ValueError(f"chance_agreement needs options >= 1 and runs >= 1, got {options} and {runs}")
    if options * runs * runs > 20_000:   # the exact sum grows as options x runs^2 (and its fractions): simulate
        g = torch.Generator().manual_seed(0)
        samples = max(1, 4 * 10 ** 6 // runs)
        picks = torch.randint(options, (samples, runs), generator=g)
        counts = torch.zeros(samples, options).scatter_add_(1, picks, torch.ones(samples, runs))
        return float(counts.amax(1).mean() / runs)

    def at_most(m: int) -> Fraction:   # P(no option is picked more than m times)
        poly = [Fraction(1)]
        term = [Fraction(1, math.factorial(j)) for j in range(m + 1)]
        for _ in range(options):
            poly = [sum(poly[i] * term[d - i] for i in range(max(0, d - m), min(d, len(poly) - 1) + 1))
                    for d in range(min(runs, (len(poly) - 1) + m) + 1)]
        return poly[runs] * math.factorial(runs) / options ** runs if runs < len(poly) else Fraction(0)

    # E[max count] = sum over m >= 1 of P(max >= m)
    expected = sum(1 - at_most(m - 1) for m in range(1, runs + 1))
    return float(expected / runs)


MAX_OPTIONS = 64   # more options than any choice of nasiam's spaces: what decision_agreement will read


def _options(decision: Any) -> int | None:
    """The decision's number of options, or None when it is not a well-formed decision."""
    if not isinstance(decision, Mapping) or not all(k in decision for k in ("head", "layer", "choice", "option")):
        return None
    try:
        size = int(decision.get("options") or round(1 / float(decision["uniform"])))
    except (KeyError, TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return size if 2 <= size <= MAX_OPTIONS else None


def decision_agreement(searches: Sequence[Sequence[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """Per decision, across searches (each the `decisions` list of one search's summary.json):
    the most chosen option, the share of searches on it (`agreement`), what uniform picks would
    give (`chance`), and in how many searches the decision rose above its noise floor. Decisions
    are matched by head, layer and choice; one missing from a search counts that search out."""
    picks: dict[tuple, list[str]] = {}
    sizes: dict[tuple, int] = {}
    above: Counter = Counter()
    for decisions in searches:
        for d in decisions:
            size = _options(d)
            if size is None:   # not a decision nasiam wrote (a damaged or foreign summary): left out
                continue
            key = (str(d["head"]), str(d["layer"]), str(d["choice"]))
            picks.setdefault(key, []).append(str(d["option"]))
            sizes[key] = size
            above[key] += bool(d.get("above_noise"))
    rows = []
    for key, chosen in picks.items():
        option, count = Counter(chosen).most_common(1)[0]
        rows.append({"head": key[0], "layer": key[1], "choice": key[2], "option": option, "searches": len(chosen),
                     "agreement": count / len(chosen), "chance": chance_agreement(sizes[key], len(chosen)),
                     "above_noise": above[key]})
    return rows
