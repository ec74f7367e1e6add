"""Does searching the projector around DirectPred's predictor beat DirectPred with the default
projector? Declared 2026-12-04 (seventh session), before any of its runs.

DirectPred's closed-form predictor is the one head confirmed better than SimSiam's default on
the CPU protocol (+2.04 linear-probe points [+1.47, +2.60], seeds 70-77). It cannot be a choice
of the search (its statistics need the whole run), so `nasiam search --predictor directpred`
keeps it as the predictor and searches the projector around it. This test asks whether that
search adds anything to DirectPred alone, and whether it beats projectors drawn at random from
the same space with the same predictor. Fixed in writing and committed before the first run
(benchmarks/RESULTS.md repeats it):

  rows      directpred  SimSiam's default projector (512-512, 2 layers) with DirectPred's
                        closed-form predictor (compare's row `directpred`)
            random      random:3, three distinct projectors drawn uniformly over the default
                        search space's canonical architectures, each with DirectPred's
                        predictor, the same three on every seed
            search      `search(--predictor=directpred)`: the default `nasiam search` path with
                        --predictor directpred, its head (searched projector, fresh DirectPred
                        predictor) trained from scratch
  budget    the ceiling screen's CPU protocol (SimSiam, resnet10t, Fashion-MNIST, 10,000 images
            per seed, batch 256, SGD 0.05, 12 epochs)
  metric    primary: the linear probe of nasiam's end-of-run evaluation (converged L-BFGS,
            penalty chosen on held-out train features, all 60,000 train images, the test set);
            kNN k=20 and k=200 on the full train bank beside it
  seeds     80-98 (fresh): 19, the search confirmatory's count (80 % power for a 0.75-point
            paired difference at the ceiling screen's largest paired SD, 1.09)
  target    search - directpred and search - (the random panel's mean), paired by seed on the
            linear probe: each mean > 0 with its 95 % t interval above zero. Reported whatever
            it shows, with the search's cost (its seconds over the same seed's directpred run's)
            and directpred - random mean beside it (is the default projector a good one here?)

    python benchmarks/directpred_search.py [--jobs 2]     # 19 x 4 runs + 19 searches; resumable
    python benchmarks/directpred_search.py --report OUT   # the declared reading of the archived runs
    python benchmarks/directpred_search.py --quick        # the pipeline on tiny synthetic data

Runs go to benchmarks/out/directpred_search/; small files archived in
benchmarks/results/directpred_search/ after every call and restored from there first.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import ceiling  # noqa: E402  (the CPU protocol, archive and restore)

from nasiam.compare.stats import paired_difference  # noqa: E402

SEARCH = "search(--predictor=directpred)"
ROWS = f"directpred,random:3,{SEARCH}"
SEEDS = ",".join(str(seed) for seed in range(80, 99))
METRICS = ("linear_top1", "knn20_top1", "knn200_top1")


def _cell(d) -> str:
    if d is None:
        return "—"
    interval = f" [{d.ci_low:+.2f}, {d.ci_high:+.2f}]" if d.ci_low is not None else ""
    return f"{d.mean:+.2f}{interval}, better on {d.wins}/{d.n}"


def reading(out: Path, search_row: str = SEARCH) -> str:
    """The declared comparisons from `out`/results.json, paired by seed."""
    data = json.loads((out / "results.json").read_text())
    lines = ["| metric | search - directpred | search - random mean | directpred - random mean | seeds |",
             "|---|---|---|---|---|"]
    for metric in METRICS:
        stats = data["statistics"].get(metric)
        if not stats:
            continue
        per_seed = {row: {int(s): v for s, v in e.get("per_seed", {}).items()} for row, e in stats["rows"].items()}
        random_mean = {int(s): v for s, v in stats.get("random_mean", {}).items()}
        search, directpred = per_seed.get(search_row, {}), per_seed.get("directpred", {})
        cells = [_cell(paired_difference(a, b))
                 for a, b in ((search, directpred), (search, random_mean), (directpred, random_mean))]
        lines.append(f"| {metric} | " + " | ".join(cells) + f" | {len(set(search) & set(directpred))} |")
    base = {r["seed"]: r["train_seconds"] for r in data["records"] if r["row"] == "directpred" and r["train_seconds"]}
    ratios = [s["train_seconds"] / base[s["seed"]] for s in data["searches"]
              if s.get("train_seconds") and s["seed"] in base]
    cost = (f"\nSearch cost: {statistics.fmean(ratios):.2f}x one pretraining run of the directpred row "
            f"({min(ratios):.2f}-{max(ratios):.2f}x over {len(ratios)} seeds); a search row costs that plus "
            "the pretraining of its head.\n") if ratios else ""
    return "Declared reading (paired by seed: mean [95 % t interval], seeds better):\n\n" + "\n".join(lines) + "\n" + cost


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (default: 2, one thread each)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads per run (default: cores / jobs)")
    parser.add_argument("--quick", action="store_true", help="tiny synthetic budget, one seed: checks the pipeline")
    parser.add_argument("--report", metavar="OUT", default=None,
                        help="train nothing: the tables and the declared reading of the archived runs in OUT")
    args = parser.parse_args(argv)
    if args.quick:
        out = ROOT / "benchmarks" / "out" / "directpred_search_quick"
        quick = {**ceiling.QUICK, "epochs": 2}
        search = "search(--predictor=directpred --widths=16,32 --warmup_epochs=1)"
        ceiling.compare(f"directpred,random:3,{search}", seeds="0,1", out=out, options=quick, jobs=args.jobs,
                        threads=args.threads)
        print(reading(out, search))
        return
    keep = ROOT / "benchmarks" / "results" / "directpred_search"
    if args.report:
        out = Path(args.report)
        ceiling.restore(keep, out)
        ceiling.report_only(ROWS, SEEDS, out, ceiling.PROTOCOL)
    else:
        out = ROOT / "benchmarks" / "out" / "directpred_search"
        ceiling.run_archived(ROWS, SEEDS, out, keep, ceiling.PROTOCOL, args.jobs, args.threads)
    print((out / "results.md").read_text())
    print(reading(out))


if __name__ == "__main__":
    main()
