"""The next confirmatory test of the search (issues #21/#22), declared before any of its runs.

Does the default `nasiam search` path give heads that beat the default head and the average
random head of its space, on seeds nobody has looked at? Written and committed before the
first run (benchmarks/RESULTS.md repeats it); to be started once the ceiling screen
(benchmarks/ceiling.py) has all three seeds, because the seed count comes from its SDs.

  rows      default   the default heads at the CPU demo's dims
            random    random:3, a panel of three distinct heads drawn uniformly over the
                      default search space's canonical architectures, the same on every seed
            search    the default `nasiam search` path of the commit that starts the test,
                      its head trained from scratch (compare's row `search`); its cost is
                      reported apart, as a multiple of one pretraining run
  training  the CPU protocol of benchmarks/ceiling.py (SimSiam, resnet10t, Fashion-MNIST,
            10,000 images per seed, batch 256, SGD 0.05, 12 epochs)
  metric    primary: the linear probe of nasiam's end-of-run evaluation (converged L-BFGS,
            penalty chosen on held-out train features, all 60,000 train images, the test set);
            kNN k=20 and k=200 on the full train bank beside it
  seeds     fresh, from 40 up; how many is fixed by a rule, before any run: n = max(8,
            seeds for 80 % power to detect a 0.75-point paired difference) at the largest
            paired linear-probe SD against `default` in the ceiling screen (floored at 0.55,
            the largest seen in head_quality's ten seeds); the count and the SD it came from
            are printed and archived with the results
  target    `search` beats `default` and the random panel's mean: paired mean difference
            > 0 with the 95 % t interval above zero, for both (no "wins" clause); reported
            whatever it shows, with the power the test had

    python benchmarks/confirmatory.py          # about 45 min a seed on two cores; resumable
    python benchmarks/confirmatory.py --report OUT   # tables of the archived runs so far (a status)

Runs go to benchmarks/out/confirmatory/; small files archived in benchmarks/results/confirmatory/.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from ceiling import PROTOCOL, report_only, restore, run_archived  # noqa: E402

from nasiam.compare.stats import seeds_for_power  # noqa: E402

ROWS = "default,random:3,search"
FIRST_SEED, MIN_SEEDS, EFFECT, SD_FLOOR = 40, 8, 0.75, 0.55


def seed_count(ceiling: Path) -> tuple[int, float]:
    """(seeds, the SD they were sized for) from the ceiling screen's archived statistics."""
    table = ceiling / "results.json"
    if not table.is_file():
        raise SystemExit(f"{table} is missing: finish benchmarks/ceiling.py first (the seed count comes from it)")
    rows = json.loads(table.read_text())["statistics"]["linear_top1"]["rows"]
    if any(entry.get("n", 0) < 3 for entry in rows.values()):
        raise SystemExit("the ceiling screen has rows with fewer than 3 seeds: finish benchmarks/ceiling.py first")
    # the archive was written when the pairs with `default` were keyed "vs_default"
    pairs = [entry.get("vs_reference") or entry.get("vs_default") for entry in rows.values()]
    sds = [pair["std"] for pair in pairs if pair]
    sd = max([SD_FLOOR, *sds])
    return max(MIN_SEEDS, seeds_for_power(EFFECT, sd) or MIN_SEEDS), sd


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (default: 2, one thread each)")
    parser.add_argument("--report", metavar="OUT", default=None,
                        help="train nothing: the tables of the runs finished so far, from the archive, in OUT "
                             "(a status, not the reading: that needs every seed)")
    args = parser.parse_args(argv)
    out, keep = ROOT / "benchmarks" / "out" / "confirmatory", ROOT / "benchmarks" / "results" / "confirmatory"
    n, sd = seed_count(ROOT / "benchmarks" / "results" / "ceiling")
    seeds = list(range(FIRST_SEED, FIRST_SEED + n))
    print(f"{n} seeds ({seeds[0]}-{seeds[-1]}): 80 % power for a {EFFECT}-point paired difference at SD {sd:.2f}")
    if args.report:
        out = Path(args.report)
        restore(keep, out)
        report_only(ROWS, seeds, out, PROTOCOL)
    else:
        keep.mkdir(parents=True, exist_ok=True)
        (keep / "seeds.json").write_text(json.dumps({"seeds": seeds, "sd": sd, "effect": EFFECT}) + "\n")
        run_archived(ROWS, seeds, out, keep, PROTOCOL, args.jobs)
    print((out / "results.md").read_text())


if __name__ == "__main__":
    main()
