"""The tables of a comparison: per-run records, per-head statistics, markdown, CSV and a plot.

Per head: mean ± std over seeds (a row's per-seed value is the mean over its heads on that
seed: one head for most rows, N for random:N), the paired difference against `default` and
against the random rows' mean with 95 % t intervals and wins per seed, the relative
improvement over the random mean (Yang et al. 2020: 100 x (acc - random) / random), and the
Spearman correlation between the label-free score (RankMe) and kNN accuracy over all runs.
"""
from __future__ import annotations

import csv
import io
import json
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nasiam._io import atomic_write_bytes, atomic_write_text
from nasiam.compare.plan import Plan
from nasiam.compare.stats import PairedDifference, mean_std, paired_difference, spearman

__all__ = ["RunRecord", "collect_records", "summarize", "write_report", "METRICS"]

METRICS = ("knn_top1", "linear_top1", "rankme")


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


def _summary(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads((path / "summary.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None


def collect_records(plan: Plan, runs: Path) -> tuple[list[RunRecord], list[dict[str, Any]]]:
    """(scored runs, searches) from the finished runs' summary.json files."""
    records, searches = [], []
    for job in plan.jobs:
        s = _summary(runs / job.name)
        if s is None:
            continue
        if job.row is None:
            searches.append({"run": job.name, "seed": job.seed, "train_seconds": s.get("train_seconds"),
                             "knn_top1": s.get("knn_top1"), "genotypes": s.get("genotypes", {}),
                             "selection": s.get("selection")})
            continue
        heads = " / ".join(str(v) for v in s.get("heads", {}).values())
        records.append(RunRecord(job.row, job.head_id or job.row, job.seed, job.name, s.get("knn_top1"),
                                 s.get("linear_top1"), s.get("rankme"), s.get("train_seconds"), heads))
    return records, searches


def _per_seed(records: list[RunRecord], row: str, metric: str) -> dict[int, float]:
    by_seed: dict[int, list[float]] = {}
    for r in records:
        value = getattr(r, metric)
        if r.row == row and value is not None:
            by_seed.setdefault(r.seed, []).append(value)
    return {seed: statistics.fmean(v) for seed, v in by_seed.items()}


def summarize(plan: Plan, records: list[RunRecord], metric: str = "knn_top1") -> dict[str, Any]:
    """Statistics per row for `metric`."""
    rows = [spec.label for spec in plan.rows]
    random_rows = [spec.label for spec in plan.rows if spec.kind == "random"]
    per_seed = {row: _per_seed(records, row, metric) for row in rows}
    random_mean: dict[int, float] = {}
    if random_rows:
        seeds = set.intersection(*(set(per_seed[r]) for r in random_rows))
        random_mean = {s: statistics.fmean(per_seed[r][s] for r in random_rows) for s in seeds}
    reference = "default" if "default" in per_seed else None
    out: dict[str, Any] = {"metric": metric, "rows": {}, "random_mean": random_mean}
    for row in rows:
        values = per_seed[row]
        if not values:
            out["rows"][row] = {"n": 0}
            continue
        mean, std = mean_std(list(values.values()))
        entry: dict[str, Any] = {"n": len(values), "mean": mean, "std": std, "per_seed": dict(sorted(values.items()))}
        if reference and row != reference:
            entry["vs_default"] = paired_difference(values, per_seed[reference])
        if random_mean and row not in random_rows:
            entry["vs_random"] = paired_difference(values, random_mean)
            common = [s for s in values if s in random_mean]
            if common:
                base = statistics.fmean(random_mean[s] for s in common)
                entry["relative_to_random"] = 100 * (statistics.fmean(values[s] for s in common) - base) / base
        seconds = [r.train_seconds for r in records if r.row == row and r.train_seconds is not None]
        entry["train_seconds"] = statistics.fmean(seconds) if seconds else None
        out["rows"][row] = entry
    # the best single random head: the one with the best mean over its seeds
    best = None
    for row in random_rows:
        for head_id in {r.head_id for r in records if r.row == row}:
            vals = [getattr(r, metric) for r in records if r.head_id == head_id and getattr(r, metric) is not None]
            if vals and (best is None or statistics.fmean(vals) > best[1]):
                best = (head_id, statistics.fmean(vals), len(vals))
    out["best_random"] = best
    return out


def _fmt(x: float | None, digits: int = 2) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _diff(d: PairedDifference | None) -> str:
    return "—" if d is None else d.describe()


def markdown(plan: Plan, records: list[RunRecord], searches: list[dict[str, Any]],
             stats: dict[str, dict[str, Any]]) -> str:
    """The tables, from `stats` ({metric: summarize(...)} for every metric in METRICS)."""
    knn = stats["knn_top1"]
    lines = ["| head | heads (first seed) | kNN top-1 % mean ± std | n | per seed | vs default, paired: mean [95 % CI], "
             "wins | vs random mean, paired | rel. to random % | linear % | RankMe | train s per run |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    linear, rank = stats["linear_top1"]["rows"], stats["rankme"]["rows"]
    for row, e in knn["rows"].items():
        first = next((r.heads for r in records if r.row == row), "")
        if not e.get("n"):
            lines.append(f"| {row} | {first} | not run yet | 0 | | | | | | | |")
            continue
        spread = f" ± {e['std']:.2f}" if e["std"] is not None else " (one seed)"
        per_seed = ", ".join(f"{v:.1f}" for v in e["per_seed"].values())
        lines.append(f"| {row} | {first} | {e['mean']:.2f}{spread} | {e['n']} | {per_seed} | "
                     f"{_diff(e.get('vs_default'))} | {_diff(e.get('vs_random'))} | "
                     f"{_fmt(e.get('relative_to_random'), 1) if 'relative_to_random' in e else '—'} | "
                     f"{_fmt(linear.get(row, {}).get('mean'))} | {_fmt(rank.get(row, {}).get('mean'), 1)} | "
                     f"{_fmt(e.get('train_seconds'), 0)} |")
    out = "\n".join(lines) + "\n"
    if knn["best_random"]:
        head_id, mean, n = knn["best_random"]
        out += f"\nBest single random head: {head_id}, kNN {mean:.2f} over {n} seed(s).\n"
    pairs = [(r.rankme, r.knn_top1) for r in records if r.rankme is not None and r.knn_top1 is not None]
    rho = spearman([p[0] for p in pairs], [p[1] for p in pairs]) if pairs else None
    out += (f"\nLabel-free score: Spearman rank correlation between RankMe and kNN over {len(pairs)} runs: "
            f"{_fmt(rho)}.\n")
    if searches:
        out += "\n| search run | seed | train s | kNN of its backbone | genotypes | selection |\n|---|---|---|---|---|---|\n"
        for s in searches:
            genotypes = "; ".join(f"{k}: {v}" for k, v in s["genotypes"].items())
            selection = (s.get("selection") or {}).get("method", "argmax")
            out += (f"| {s['run']} | {s['seed']} | {_fmt(s['train_seconds'], 0)} | {_fmt(s['knn_top1'])} | "
                    f"{genotypes} | {selection} |\n")
    return out


def write_report(plan: Plan, runs: Path, out: Path) -> dict[str, Any]:
    """results.md, results.csv, results.json and comparison.png in `out`."""
    records, searches = collect_records(plan, runs)
    stats = {m: summarize(plan, records, m) for m in METRICS}
    md = markdown(plan, records, searches, stats)
    atomic_write_text(out / "results.md", md)
    buffer = io.StringIO()
    fields = list(RunRecord.__dataclass_fields__)
    writer = csv.DictWriter(buffer, fieldnames=fields)
    writer.writeheader()
    for r in records:
        writer.writerow(asdict(r))
    atomic_write_text(out / "results.csv", buffer.getvalue())
    data = {"records": [asdict(r) for r in records], "searches": searches,
            "statistics": json.loads(json.dumps(stats, default=lambda o: asdict(o) if hasattr(o, "__dataclass_fields__")
                                                else str(o)))}
    atomic_write_text(out / "results.json", json.dumps(data, indent=1) + "\n")
    if records:
        _plot(stats["knn_top1"], records, out / "comparison.png")
    return {"markdown": md, "records": records, "searches": searches, "statistics": stats}


def _plot(knn: dict[str, Any], records: list[RunRecord], path: Path) -> None:
    from matplotlib.figure import Figure   # no pyplot: no global state, no backend choice in library code

    rows = [row for row, e in knn["rows"].items() if e.get("n")]
    fig = Figure(figsize=(1.3 * len(rows) + 2, 4))
    ax = fig.add_subplot()
    for i, row in enumerate(rows):
        e = knn["rows"][row]
        xs = [r.knn_top1 for r in records if r.row == row and r.knn_top1 is not None]
        ax.scatter([i] * len(xs), xs, s=14, alpha=0.5, color="tab:gray")
        ax.errorbar([i], [e["mean"]], yerr=[e["std"] or 0], fmt="o", color="tab:blue", capsize=4)
    ax.set_xticks(range(len(rows)), rows, rotation=30, ha="right")
    ax.set_ylabel("kNN top-1 (%)")
    ax.set_title("mean ± std over seeds (grey: single runs)")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    atomic_write_bytes(path, buffer.getvalue())
