"""The tables of a comparison: per-run records, per-head statistics, markdown, CSV and a plot.

The primary metric is the linear probe (`linear_top1`: converged, penalty chosen on held-out
train features); kNN at k=20 and k=200 is secondary (noisier across seeds, RESULTS.md).
Per head and metric: mean ± std over seeds
(a row's per-seed value is the mean over its heads on that seed: one head for most rows, the
panel for random:N), the paired difference against `default` and against the random rows'
mean with 95 % t intervals and the share of seeds where the head is better, the relative
improvement over the random mean (Yang et al. 2020: 100 x (acc - random) / random), and
each member of the random panel.

Power: from the paired standard deviations measured here, the seeds a paired t-test needs to
detect an effect of 0.5 and 1 point with 80 % power, so the next protocol can declare its seed
count from a pilot. Evaluation noise: where runs kept their per-image test predictions, the
standard deviation a paired difference owes to the finite test set alone, beside the one
measured across seeds (training noise plus evaluation noise).

Searches: each one's seconds, genotypes and selection; its cost in pretraining runs; and, over
the seeds of one search row, how often each decision went the same way beside what uniform
picks would give (`nasiam.search.decisions.decision_agreement`).
"""
from __future__ import annotations

import csv
import io
import json
import math
import statistics
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Collection, Sequence

import torch

from nasiam._io import atomic_write_bytes, atomic_write_text
from nasiam.compare.plan import Plan
from nasiam.compare.run_folders import collapsed, read_summary
from nasiam.compare.stats import PairedDifference, mean_std, paired_difference, seeds_for_power, spearman
from nasiam.search.decisions import decision_agreement

__all__ = ["RunRecord", "collect_records", "summarize", "search_cost", "write_report", "METRICS", "PRIMARY",
           "EFFECTS", "test_sample_sd"]

PRIMARY = "linear_top1"
METRICS = ("linear_top1", "knn20_top1", "knn200_top1", "knn_top1", "rankme")
TITLES = {"linear_top1": "linear probe top-1 %", "knn20_top1": "kNN top-1 % (k=20, T=0.07, full train bank)",
          "knn200_top1": "kNN top-1 % (k=200, T=0.1, full train bank)",
          "knn_top1": "kNN top-1 % (the runs' --knn_k and --knn_subset)"}
SHORT = {"linear_top1": "linear %", "knn20_top1": "kNN k=20 %", "knn200_top1": "kNN k=200 %",
         "knn_top1": "kNN (run's k) %", "rankme": "RankMe"}
EFFECTS = (0.5, 1.0)   # effects (points) the power table sizes seeds for
PREDICTION_KEYS = {"linear_top1": "linear", "knn20_top1": "knn20", "knn200_top1": "knn200"}


@dataclass
class RunRecord:
    row: str
    head_id: str
    seed: int
    run: str
    knn_top1: float | None
    linear_top1: float | None
    rankme: float | None
    train_seconds: float | None
    heads: str
    knn20_top1: float | None = None
    knn200_top1: float | None = None
    eval_seconds: float | None = None
    environment: str | None = None   # `describe_environment` of the run's record; None for archived runs
    code: str | None = None          # `describe_code` of the run's record


def describe_environment(record: dict[str, Any] | None) -> str | None:
    """The parts of a run's `environment` record that change its numbers or its seconds."""
    if not isinstance(record, dict) or not record:   # none kept, or not a record nasiam wrote
        return None
    device = record.get("device_name") or record.get("device")
    return f"torch {record.get('torch')}, timm {record.get('timm')}, {device}, {record.get('threads')} thread(s)"


def describe_code(record: dict[str, Any] | None) -> str:
    """The commit a run's code was (its summary's environment.code), or why there is none."""
    code = record.get("code") if isinstance(record, dict) else None
    if not isinstance(code, dict) or not isinstance(code.get("commit"), str):
        # archived runs kept no commit: accepted, the code unknown
        return "not recorded" if not isinstance(record, dict) or "code" not in record else "not a git checkout"
    return f"commit {code['commit'][:12]}" + (" with uncommitted changes" if code.get("dirty") else "")


def collect_records(plan: Plan, runs: Path, excluded: Collection[str] = ()) -> tuple[list[RunRecord], list[dict[str, Any]]]:
    """(scored runs, searches) from the finished runs' summary.json files; the runs named in
    `excluded` (failed in this call: a run that finished is failed when it is not the planned one)
    are left out."""
    records, searches = [], []
    for job in plan.jobs:
        s = read_summary(runs / job.name) if job.name not in excluded else None
        if s is None:
            continue
        if job.row is None:
            searches.append({"run": job.name, "seed": job.seed, "train_seconds": s.get("train_seconds"),
                             "collapsed": collapsed(runs, job.name), "code": describe_code(s.get("environment")),
                             "knn_top1": s.get("knn_top1"), "genotypes": s.get("genotypes") or {},
                             "selection": s.get("selection"),
                             "decisions": s["decisions"] if isinstance(s.get("decisions"), list) else [],
                             "search": job.name.rsplit("-s", 1)[0],
                             "environment": describe_environment(s.get("environment"))})
            continue
        heads = " / ".join(str(v) for v in (s.get("heads") or {}).values())   # null: a summary without them
        records.append(RunRecord(job.row, job.head_id or job.row, job.seed, job.name, s.get("knn_top1"),
                                 s.get("linear_top1"), s.get("rankme"), s.get("train_seconds"), heads,
                                 s.get("knn20_top1"), s.get("knn200_top1"), s.get("eval_seconds"),
                                 describe_environment(s.get("environment")), describe_code(s.get("environment"))))
    return records, searches


def _per_seed(records: list[RunRecord], row: str, metric: str) -> dict[int, float]:
    by_seed: dict[int, list[float]] = {}
    for r in records:
        value = getattr(r, metric)
        if r.row == row and value is not None:
            by_seed.setdefault(r.seed, []).append(value)
    return {seed: statistics.fmean(v) for seed, v in by_seed.items()}


def summarize(plan: Plan, records: list[RunRecord], metric: str = PRIMARY,
              reference: str | None = None) -> dict[str, Any]:
    """Statistics per row for `metric`, each row paired by seed with the `reference` row
    (None: `default` where the plan has it) and with the random panel's mean."""
    rows = [spec.label for spec in plan.rows]
    random_rows = [spec.label for spec in plan.rows if spec.kind == "random"]
    per_seed = {row: _per_seed(records, row, metric) for row in rows}
    random_mean: dict[int, float] = {}
    if random_rows:
        seeds = set.intersection(*(set(per_seed[r]) for r in random_rows))
        random_mean = {s: statistics.fmean(per_seed[r][s] for r in random_rows) for s in seeds}
    if reference is None:
        reference = "default" if "default" in per_seed else None
    elif reference not in per_seed:
        raise ValueError(f"reference {reference!r} is not a row of this comparison ({', '.join(rows)})")
    out: dict[str, Any] = {"metric": metric, "reference": reference, "rows": {}, "random_mean": random_mean}
    for row in rows:
        values = per_seed[row]
        if not values:
            out["rows"][row] = {"n": 0}
            continue
        mean, std = mean_std(list(values.values()))
        entry: dict[str, Any] = {"n": len(values), "mean": mean, "std": std, "per_seed": dict(sorted(values.items()))}
        if reference and row != reference and per_seed[reference]:
            entry["vs_reference"] = paired_difference(values, per_seed[reference])
        if random_mean and row not in random_rows:
            entry["vs_random"] = paired_difference(values, random_mean)
            common = [s for s in values if s in random_mean]
            if common:
                base = statistics.fmean(random_mean[s] for s in common)
                entry["relative_to_random"] = 100 * (statistics.fmean(values[s] for s in common) - base) / base
        seconds = [r.train_seconds for r in records if r.row == row and r.train_seconds is not None]
        entry["train_seconds"] = statistics.fmean(seconds) if seconds else None
        evals = [r.eval_seconds for r in records if r.row == row and r.eval_seconds is not None]
        entry["eval_seconds"] = statistics.fmean(evals) if evals else None
        out["rows"][row] = entry
    out["panel"] = _panel(plan, records, metric)
    best = max(out["panel"], key=lambda m: m["mean"], default=None)
    out["best_random"] = (best["head_id"], best["mean"], best["n"]) if best else None
    return out


def _panel(plan: Plan, records: list[RunRecord], metric: str) -> list[dict[str, Any]]:
    """Each random head: its mean over the seeds it trained on and its architecture."""
    members = []
    for spec in (s for s in plan.rows if s.kind == "random"):
        for head_id in dict.fromkeys(r.head_id for r in records if r.row == spec.label):
            runs = [r for r in records if r.head_id == head_id and getattr(r, metric) is not None]
            if runs:
                members.append({"row": spec.label, "head_id": head_id, "n": len(runs), "heads": runs[0].heads,
                                "mean": statistics.fmean(getattr(r, metric) for r in runs)})
    return members


def test_sample_sd(runs: Path, pairs: list[tuple[str | Sequence[str], str]], key: str) -> float | None:
    """The standard deviation (points) of a paired accuracy difference that comes from the test
    sample alone: for runs a, b scored on the same N test images, with d_i = correct_a(i) -
    correct_b(i), the SD over a bootstrap of the images is sd(d) / sqrt(N) x 100. Where a is
    several runs (a random panel on one seed, whose row is their mean), correct_a(i) is their
    mean: the panel mean's own test-sample noise, smaller than one head's. Root mean square over
    the `pairs` whose prediction files all exist; None when none do."""
    from nasiam.eval.protocol import PREDICTIONS_FILE, load_predictions

    variances = []
    for a, b in pairs:
        names = [a] if isinstance(a, str) else list(a)
        try:
            pa = [load_predictions(runs / r / "eval" / PREDICTIONS_FILE) for r in names]
            pb = load_predictions(runs / b / "eval" / PREDICTIONS_FILE)
        except (OSError, ValueError):
            continue
        labels = pb["labels"]
        if not pa or any(key not in p or not p["labels"].equal(labels) for p in pa) or key not in pb \
                or len(labels) < 2:
            continue
        correct_a = torch.stack([(p[key] == labels).double() for p in pa]).mean(0)
        d = correct_a - (pb[key] == labels).double()
        variances.append(float(d.var()) / len(d) * 1e4)
    return math.sqrt(statistics.fmean(variances)) if variances else None


def _fmt(x: float | None, digits: int = 2) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _diff(d: PairedDifference | None) -> str:
    return "—" if d is None else d.describe()


def _metric_table(stats: dict[str, Any], records: list[RunRecord], secondary: dict[str, dict[str, Any]]) -> str:
    reference = stats.get("reference") or "default"
    lines = [f"| head | heads (first seed) | {TITLES.get(stats['metric'], stats['metric'])}: mean ± std | n | per seed | "
             f"vs {reference}, paired: mean [95 % CI], seeds better | vs random mean, paired | rel. to random % | "
             + "".join(f"{name} | " for name in secondary) + "train s | eval s |",
             "|---|---|---|---|---|---|---|---|" + "---|" * len(secondary) + "---|---|"]
    for row, e in stats["rows"].items():
        first = next((r.heads for r in records if r.row == row), "")
        if not e.get("n"):
            lines.append(f"| {row} | {first} | not run yet | 0 | | | | " + " | " * len(secondary) + " | |")
            continue
        spread = f" ± {e['std']:.2f}" if e["std"] is not None else " (one seed)"
        per_seed = ", ".join(f"{v:.1f}" for v in e["per_seed"].values())
        others = "".join(_fmt(s["rows"].get(row, {}).get("mean"), 1 if name == "RankMe" else 2) + " | "
                         for name, s in secondary.items())
        lines.append(f"| {row} | {first} | {e['mean']:.2f}{spread} | {e['n']} | {per_seed} | "
                     f"{_diff(e.get('vs_reference'))} | {_diff(e.get('vs_random'))} | "
                     f"{_fmt(e.get('relative_to_random'), 1) if 'relative_to_random' in e else '—'} | {others}"
                     f"{_fmt(e.get('train_seconds'), 0)} | {_fmt(e.get('eval_seconds'), 0)} |")
    return "\n".join(lines) + "\n"


def _power_table(plan: Plan, records: list[RunRecord], stats: dict[str, dict[str, Any]], runs: Path) -> str:
    reference = next((s.get("reference") for s in stats.values() if s.get("reference")), None) or "default"
    lines = [f"| head vs {reference} | metric | paired SD over seeds | of which test sample (SD) | seeds for 80 % power: "
             + " / ".join(f"{e:g} pt" for e in EFFECTS) + " |", "|---|---|---|---|---|"]
    found = False
    for metric in (m for m in METRICS if m in PREDICTION_KEYS or m == "knn_top1"):
        for row, e in stats[metric]["rows"].items():
            d = e.get("vs_reference")
            if d is None or d.std is None:
                continue
            found = True
            # per seed, the row's runs (a random panel's heads: their mean is the row) against the reference's
            pairs = [([a.run for a in records if a.row == row and a.seed == b.seed], b.run)
                     for b in records if b.row == reference]
            pairs = [(a, b) for a, b in pairs if a]
            sample = test_sample_sd(runs, pairs, PREDICTION_KEYS[metric]) if metric in PREDICTION_KEYS else None
            needed = [seeds_for_power(effect, d.std) for effect in EFFECTS]
            lines.append(f"| {row} | {metric} | {d.std:.2f} (n={d.n}) | {_fmt(sample)} | "
                         + " / ".join("—" if n is None else str(n) for n in needed) + " |")
    if not found:
        return ""
    return ("\nPower (from the paired SDs above; a paired t-test at the 5 % level; plan a protocol's seeds from a "
            "pilot's SD, not from this run's effect):\n\n" + "\n".join(lines) + "\n")


def search_cost(plan: Plan, records: list[RunRecord], searches: list[dict[str, Any]],
                reference: str | None = None) -> dict[str, Any] | None:
    """What a search costs, as a multiple of one pretraining run: per seed, the search's
    training seconds over the same seed's `default` run's (paired, so the machine's load counts
    on both sides; else the `reference` row's, a panel's mean), then the mean and range over
    seeds. None without a search and such a run on a common seed."""
    bases = {s.label for s in plan.rows if s.kind == "default"} or ({reference} if reference else set())
    runs: dict[int, list[float]] = {}
    for r in records:
        if r.row in bases and r.train_seconds:
            runs.setdefault(r.seed, []).append(r.train_seconds)
    base = {seed: statistics.fmean(seconds) for seed, seconds in runs.items()}
    ratios = []
    for search in searches:
        seconds = search.get("train_seconds")
        if not seconds or search["seed"] not in base:
            continue
        ratios.append(float(seconds) / base[search["seed"]])
    if not ratios:
        return None
    return {"pretrain_runs": statistics.fmean(ratios), "min": min(ratios), "max": max(ratios), "n": len(ratios),
            "base": "/".join(sorted(bases))}


def markdown(plan: Plan, records: list[RunRecord], searches: list[dict[str, Any]],
             stats: dict[str, dict[str, Any]], runs: Path | None = None, cost: dict[str, Any] | None = None) -> str:
    """The tables, from `stats` ({metric: summarize(...)}) and the search's `cost`."""
    present = [m for m in METRICS if m != "rankme" and any(getattr(r, m) is not None for r in records)]
    if "knn200_top1" in present and all(r.knn200_top1 is not None for r in records):
        present.remove("knn_top1")   # every run has the full-bank kNN: the --knn_k one repeats it
    primary = PRIMARY if PRIMARY in present or not present else present[0]
    secondary = {SHORT[m]: stats[m] for m in [*present, "rankme"] if m != primary}
    out = f"Primary metric: {TITLES[primary]}.\n\n" + _metric_table(stats[primary], records, secondary)
    for metric in (m for m in present if m != primary):
        out += f"\nSecondary: {TITLES[metric]}.\n\n" + _metric_table(stats[metric], records, {})
    panel = stats[primary]["panel"]
    if panel:
        out += (f"\nRandom panel ({len(panel)} distinct heads), {TITLES[primary]} per head (mean over its seeds):\n\n"
                "| head | heads | mean | seeds |\n|---|---|---|---|\n")
        out += "".join(f"| {m['head_id']} | {m['heads']} | {m['mean']:.2f} | {m['n']} |\n"
                       for m in sorted(panel, key=lambda m: -m["mean"]))
    if runs is not None:
        out += _power_table(plan, records, stats, runs)
    pairs = [(r.rankme, r.linear_top1 if r.linear_top1 is not None else r.knn_top1) for r in records
             if r.rankme is not None and (r.linear_top1 is not None or r.knn_top1 is not None)]
    rho = spearman([p[0] for p in pairs], [p[1] for p in pairs]) if pairs else None
    out += (f"\nLabel-free score: Spearman rank correlation between RankMe and the {'linear probe' if primary == PRIMARY else 'kNN'} "
            f"over {len(pairs)} runs: {_fmt(rho)}.\n")
    evals = [r.eval_seconds for r in records if r.eval_seconds is not None]
    trains = [r.train_seconds for r in records if r.eval_seconds is not None and r.train_seconds]
    if evals and trains:
        out += (f"\nEvaluation cost: {statistics.fmean(evals):.0f} s a run on average, "
                f"{100 * sum(evals) / sum(trains):.0f} % of the training time.\n")
    out += _environments(records, searches)
    if searches:
        out += "\n| search run | seed | train s | kNN of its backbone | genotypes | selection |\n|---|---|---|---|---|---|\n"
        for s in searches:
            genotypes = "; ".join(f"{k}: {v}" for k, v in s["genotypes"].items())
            selection = "collapsed: no head" if s.get("collapsed") else (s.get("selection") or {}).get("method", "argmax")
            out += (f"| {s['run']} | {s['seed']} | {_fmt(s['train_seconds'], 0)} | {_fmt(s['knn_top1'])} | "
                    f"{genotypes} | {selection} |\n")
        failed = [s["run"] for s in searches if s.get("collapsed")]
        if failed:
            out += (f"\nSearches that collapsed (genotype refused, genotype.rejected.json): {', '.join(failed)}; the "
                    "rows trained from them have no run on those seeds (failed, not scored).\n")
        out += _agreement(searches)
        if cost is not None:
            out += (f"\nSearch cost: {cost['pretrain_runs']:.2f}x one pretraining run (a search's training "
                    f"seconds over its seed's {cost.get('base', 'default')} run's, "
                    f"{cost['min']:.2f}-{cost['max']:.2f}x over "
                    f"{cost['n']} seed(s)); a search row costs that plus the pretraining of the head it found.\n")
    return out


def _agreement(searches: list[dict[str, Any]]) -> str:
    """Per search (one per seed), whether its decisions agree across seeds more than uniform
    picks would: a decision that reflects the data should be taken the same way on most seeds."""
    out = ""
    by_search: dict[str, list[list[dict[str, Any]]]] = {}
    for s in searches:
        if s.get("decisions"):
            by_search.setdefault(s.get("search", s["run"]), []).append(s["decisions"])
    for name, runs in by_search.items():
        if len(runs) < 2:
            continue
        rows = decision_agreement(runs)
        mean = statistics.fmean(r["agreement"] for r in rows)
        chance = statistics.fmean(r["chance"] for r in rows)
        out += (f"\nDecisions of {name} across its {len(runs)} seeds (agreement: the share of seeds on the most "
                f"chosen option; chance: what uniform picks would give). Mean agreement {mean:.2f} against "
                f"{chance:.2f} by chance.\n\n| decision | most chosen | agreement | chance | above noise |\n"
                "|---|---|---|---|---|\n")
        out += "".join(f"| {r['head']} layer {r['layer']} {r['choice']} | {r['option']} | {r['agreement']:.2f} | "
                       f"{r['chance']:.2f} | {r['above_noise']} of {r['searches']} |\n" for r in rows)
    return out


def _environments(records: list[RunRecord], searches: list[dict[str, Any]]) -> str:
    """Which environments the runs ran on, and the seeds whose runs did not all share one: their
    paired differences and cost ratios straddle a change of versions, device or threads."""
    runs = [(r.seed, r.environment) for r in records] + [(s["seed"], s.get("environment")) for s in searches]
    if not runs:
        return ""
    counts = Counter(env or "not recorded" for _, env in runs)
    out = "\nEnvironments: " + "; ".join(f"{env} ({n} run{'s' * (n != 1)})" for env, n in counts.most_common()) + ".\n"
    by_seed: dict[int, set[str | None]] = {}
    for seed, env in runs:
        by_seed.setdefault(seed, set()).add(env)
    mixed = sorted(seed for seed, envs in by_seed.items() if len(envs) > 1)
    if mixed:
        out += (f"Seeds whose runs did not share one environment (their pairs and cost ratios straddle the change): "
                f"{', '.join(map(str, mixed))}.\n")
    codes = Counter([r.code or "not recorded" for r in records] + [s.get("code") or "not recorded" for s in searches])
    out += ("Code: " + "; ".join(f"{code} ({n} run{'s' * (n != 1)})" for code, n in codes.most_common())
            + (" (not recorded: runs written before runs kept their commit; accepted, their code unknown)"
               if "not recorded" in codes else "") + ".\n")
    return out


def write_report(plan: Plan, runs: Path, out: Path, reference: str | None = None,
                 excluded: Collection[str] = ()) -> dict[str, Any]:
    """results.md, results.csv, results.json and comparison.png in `out`, of the finished runs
    but those named in `excluded`."""
    records, searches = collect_records(plan, runs, excluded)
    stats = {m: summarize(plan, records, m, reference) for m in METRICS}
    cost = search_cost(plan, records, searches, reference)
    md = markdown(plan, records, searches, stats, runs, cost)
    atomic_write_text(out / "results.md", md)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(RunRecord.__dataclass_fields__))
    writer.writeheader()
    writer.writerows(asdict(r) for r in records)
    atomic_write_text(out / "results.csv", buffer.getvalue())
    data = {"records": [asdict(r) for r in records], "searches": searches,
            "search_cost": cost,
            "statistics": json.loads(json.dumps(stats, default=lambda o: asdict(o) if hasattr(o, "__dataclass_fields__")
                                                else str(o)))}
    atomic_write_text(out / "results.json", json.dumps(data, indent=1) + "\n")
    plotted = PRIMARY if any(r.linear_top1 is not None for r in records) else "knn_top1"
    if any(getattr(r, plotted) is not None for r in records):
        _plot(stats[plotted], records, out / "comparison.png")
    return {"markdown": md, "records": records, "searches": searches, "statistics": stats}


def _plot(summary: dict[str, Any], records: list[RunRecord], path: Path) -> None:
    from matplotlib.figure import Figure  # no pyplot: no global state, no backend choice in library code

    from nasiam.runner.outputs import figure_png

    metric = summary["metric"]
    rows = [row for row, e in summary["rows"].items() if e.get("n")]
    fig = Figure(figsize=(1.3 * len(rows) + 2, 4))
    ax = fig.add_subplot()
    for i, row in enumerate(rows):
        e = summary["rows"][row]
        xs = [getattr(r, metric) for r in records if r.row == row and getattr(r, metric) is not None]
        ax.scatter([i] * len(xs), xs, s=14, alpha=0.5, color="tab:gray")
        ax.errorbar([i], [e["mean"]], yerr=[e["std"] or 0], fmt="o", color="tab:blue", capsize=4)
    ax.set_xticks(range(len(rows)), rows, rotation=30, ha="right")
    ax.set_ylabel(SHORT.get(metric, metric))
    ax.set_title("mean ± std over seeds (grey: single runs)")
    fig.tight_layout()
    atomic_write_bytes(path, figure_png(fig, dpi=120))
