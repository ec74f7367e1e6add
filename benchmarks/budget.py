"""At which training budget do heads matter? (issue #22, item 5)

The ceiling screen (benchmarks/ceiling.py, 12 epochs) found no head beating the default by the
declared 1.0 linear point with an interval above zero: the closest, the searches' consensus
head, was +0.98 [+0.02, +1.94]. The issue's next step is to measure, with two of those heads,
whether a larger budget that two CPU cores can afford makes the difference between heads
larger relative to the noise, so that the confirmatory test runs where an effect can exist.

The protocol, fixed in writing before the first run (benchmarks/RESULTS.md repeats it):
  rows      default, consensus (the ceiling's rows of the same names, same genotype files)
  budget    the ceiling's protocol (SimSiam, resnet10t, Fashion-MNIST, 10,000 images per seed,
            batch 256, SGD 0.05, full-bank kNN, converged linear probe) at 36 epochs instead
            of 12: three times the training
  seeds     20, 21, 22: the ceiling's, so each seed's 12-epoch pair is already measured
  measures  per budget: the paired difference consensus - default on the linear probe (mean,
            95 % t interval, SD), its standardised size d = mean / SD, and the cost of a
            confirmatory test at that budget: the seeds for 80 % power at d (paired t, 5 %)
            times the budget's training seconds per seed
Reading, declared: the confirmatory test runs at 36 epochs if its cost there is lower than at
12 epochs (a larger d can pay for the longer runs); otherwise at 12. With three seeds d is
estimated loosely: the table says so, and the decision is a screen's, not a result.

    python benchmarks/budget.py                  # 6 runs, about 2.5-3 h on two idle CPU cores; resumable
    python benchmarks/budget.py --report OUT     # the tables of the runs finished in OUT, archived

Runs go to benchmarks/out/budget/ (ignored by git); their small files and the tables are
archived in benchmarks/results/budget/ after every call and restored from there first. The
finished archive is packed (benchmarks/archive.py): `python benchmarks/archive.py unpack
benchmarks/results/budget /tmp/budget`, then `--report /tmp/budget`, gives its tables again.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import ceiling  # noqa: E402  (the ceiling's heads, archive and restore)

from nasiam.compare.stats import seeds_for_power  # noqa: E402
from nasiam.rundir import write_search_genotypes  # noqa: E402

PROTOCOL = {**ceiling.PROTOCOL, "epochs": 36}
SEEDS = ceiling.SEEDS
ROWS = ("consensus",)


def write_heads(directory: Path, dim: int, pred_dim: int) -> str:
    rows = ["default"]
    for name in ROWS:
        path = directory / name / "genotype.json"
        write_search_genotypes(path, "simsiam", ceiling.heads(dim, pred_dim)[name])
        rows.append(f"{name}={path}")
    return ",".join(rows)


def decision_table() -> str:
    """Consensus - default at each budget, from the archived tables of both benchmarks."""
    import csv
    import statistics

    from scipy import stats

    lines = ["| budget | n | consensus - default, linear: mean [95 % CI] | SD | d | seeds for 80 % power | "
             "train s a run | confirmatory cost (seeds x train s) |", "|---|---|---|---|---|---|---|---|"]
    for label, table in (("12 epochs (ceiling)", ROOT / "benchmarks/results/ceiling/results.csv"),
                         ("36 epochs", ROOT / "benchmarks/results/budget/results.csv")):
        if not table.is_file():
            continue
        rows = list(csv.DictReader(table.open()))
        value = {(r["head_id"], r["seed"]): float(r["linear_top1"]) for r in rows if r["linear_top1"]}
        seeds = [s for s in SEEDS.split(",") if ("default", s) in value and ("consensus", s) in value]
        if len(seeds) < 2:
            continue
        diffs = [value["consensus", s] - value["default", s] for s in seeds]
        mean, sd = statistics.mean(diffs), statistics.stdev(diffs)
        half = stats.t.ppf(0.975, len(diffs) - 1) * sd / len(diffs) ** 0.5
        train = statistics.mean(float(r["train_seconds"]) for r in rows
                                if r["head_id"] in ("default", "consensus") and r["seed"] in seeds)
        n = seeds_for_power(mean, sd)
        lines.append(f"| {label} | {len(seeds)} | {mean:+.2f} [{mean - half:+.2f}, {mean + half:+.2f}] | {sd:.2f} | "
                     f"{mean / sd:.2f} | {n} | {train:.0f} | {n * train:.0f} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (default: 2, one thread each)")
    parser.add_argument("--report", metavar="OUT", default=None, help="train nothing: tables of the runs in OUT")
    args = parser.parse_args(argv)
    keep = ROOT / "benchmarks" / "results" / "budget"
    if args.report:
        out = Path(args.report)
        ceiling.report_only(write_heads(out / "fixed_heads", 512, 128), SEEDS, out, PROTOCOL)
        ceiling.archive(out, keep)
    else:
        out = ROOT / "benchmarks" / "out" / "budget"
        ceiling.run_archived(write_heads(out / "fixed_heads", 512, 128), SEEDS, out, keep, PROTOCOL, args.jobs)
    print((out / "results.md").read_text())
    print(decision_table())


if __name__ == "__main__":
    main()
