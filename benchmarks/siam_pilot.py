"""A pilot of the `siam` search before the SimSiam test is declared (issue #32 item 4).
Exploratory, declared as such 2026-12-06 (twelfth session) before any of its runs; its seeds
(190-192) are never reused by a confirmatory test, and nothing it shows is a result.

The test issue #32 asks for (search vs DirectPred, non-inferiority at -0.25, and vs the default)
cannot be sized or made worth its ~12 hours without two facts nobody has measured: what a search
in the `siam` space picks (does its predictor decision rise above the noise floor, and for which
family; how many decisions fall back to the prior), and the paired SD of search - directpred.
This pilot measures both on three seeds, with the ceiling screen's CPU protocol:

  protocol  benchmarks/ceiling.py's PROTOCOL (SimSiam, resnet10t, Fashion-MNIST, a seeded
            10,000-image subset per seed, batch 256, SGD 0.05, 12 epochs; linear probe
            primary, kNN beside it); the cross-fitted probe (benchmarks/crossfit_eval.py)
            computed afterwards on every run
  rows      default     SimSiam's default heads
            directpred  the default projector with DirectPred's closed-form predictor
            search      search(--space=siam --below_noise=prior), its head trained from scratch
  seeds     190, 191, 192

    python benchmarks/siam_pilot.py [--jobs 2]       # 12 runs (3 searches), ~1.5 h on two cores
    python benchmarks/siam_pilot.py --report OUT      # tables of the runs finished in OUT
    bash benchmarks/frozen.sh start siam_pilot COMMIT

Runs in benchmarks/out/siam_pilot/; small files archived in benchmarks/results/siam_pilot/.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import ceiling  # noqa: E402

ROWS = "default,directpred,search=search(--space=siam --below_noise=prior)"
SEEDS = "190,191,192"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (default: 2, one thread each)")
    parser.add_argument("--report", metavar="OUT", default=None, help="train nothing: tables of the runs in OUT")
    args = parser.parse_args(argv)
    keep = ROOT / "benchmarks" / "results" / "siam_pilot"
    if args.report:
        out = Path(args.report)
        ceiling.report_only(ROWS, SEEDS, out, ceiling.PROTOCOL)
        ceiling.archive(out, keep)
    else:
        out = ROOT / "benchmarks" / "out" / "siam_pilot"
        ceiling.run_archived(ROWS, SEEDS, out, keep, ceiling.PROTOCOL, args.jobs)
    print((out / "results.md").read_text())


if __name__ == "__main__":
    main()
