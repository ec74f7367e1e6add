"""Does DirectPred's closed-form predictor beat SimSiam's default predictor? A confirmatory test
of the DirectPred screen's result (issue #21 item 3), declared before any of its runs.

The screen (benchmarks/directpred.py, seeds 60-62) found the closed-form predictor 1.64 linear
probe points above the default MLP predictor [+0.83, +2.44], on 3 of 3 seeds: the largest
head effect measured in this project, from three seeds chosen for a screen. This test asks the
same question on seeds nobody has looked at. Fixed in writing and committed before the first
run (benchmarks/RESULTS.md repeats it):

  rows      default     SimSiam's heads at the CPU demo's dims (MLP predictor 512-128-512)
            directpred  the same projector; DirectPred's closed-form predictor (rho = sqrt(0.3)
                        per view, eps 0.01, recomputed at every update: the authors' command)
  budget    the ceiling screen's CPU protocol (SimSiam, resnet10t, Fashion-MNIST, 10,000
            images per seed, batch 256, SGD 0.05, 12 epochs)
  metric    primary: the linear probe of nasiam's end-of-run evaluation (converged L-BFGS,
            penalty chosen on held-out train features, all 60,000 train images, the test set);
            kNN k=20 and k=200 on the full train bank beside it
  seeds     70-77 (fresh). The count follows the confirmatory test's rule: n = max(8, seeds for
            80 % power to detect a 0.75-point paired difference) at the larger of the screen's
            paired linear-probe SD (0.32) and the floor 0.55: 8
  target    directpred - default: paired mean > 0 with its 95 % t interval above zero on the
            linear probe; reported whatever it shows, kNN and training seconds beside it

    python benchmarks/directpred_confirmatory.py [--jobs 2] [--threads T]   # 16 runs; resumable
    python benchmarks/directpred_confirmatory.py --report OUT   # tables of the archived runs (a status)

Runs go to benchmarks/out/directpred_confirmatory/; small files archived in
benchmarks/results/directpred_confirmatory/ after every call and restored from there first.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import ceiling  # noqa: E402  (the CPU protocol, archive and restore)

ROWS = "default,directpred"
SEEDS = ",".join(str(seed) for seed in range(70, 78))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (default: 2, one thread each)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads per run (default: cores / jobs)")
    parser.add_argument("--report", metavar="OUT", default=None,
                        help="train nothing: the tables of the archived runs in OUT (a status until all 8 seeds "
                             "are in)")
    args = parser.parse_args(argv)
    keep = ROOT / "benchmarks" / "results" / "directpred_confirmatory"
    if args.report:
        out = Path(args.report)
        ceiling.restore(keep, out)
        ceiling.report_only(ROWS, SEEDS, out, ceiling.PROTOCOL)
    else:
        out = ROOT / "benchmarks" / "out" / "directpred_confirmatory"
        ceiling.run_archived(ROWS, SEEDS, out, keep, ceiling.PROTOCOL, args.jobs, args.threads)
    print((out / "results.md").read_text())


if __name__ == "__main__":
    main()
