"""Does DirectPred's closed-form predictor work in nasiam? (issue #21 item 3: predictor variants)

DirectPred (Tian, Chen & Ganguli 2021) sets a linear predictor from the eigendecomposition of
its input's running correlation instead of training it (`nasiam.head.DirectPredLinear`). The
paper finds it comparable to the 2-layer MLP predictor with BatchNorm and better than a trained
linear predictor (+2.5 % top-1 at 300 ImageNet epochs, +5 % at 60). This screen checks that
nasiam's implementation trains at the CPU budget and where it stands against those two.

The protocol, fixed in writing before the first run (benchmarks/RESULTS.md repeats it):
  rows      default (SimSiam's MLP predictor 512-128-512), linpred (a trained Linear(512, 512)
            without bias: `nasiam compare`'s row), directpred (the closed-form predictor,
            rho = sqrt(0.3) per view, eps 0.01, recomputed every update: the authors' command);
            the projector is the default in every row
  budget    the ceiling screen's CPU protocol (SimSiam, resnet10t, Fashion-MNIST, 10,000 images
            per seed, batch 256, SGD 0.05, 12 epochs, full-bank kNN, converged linear probe)
  seeds     60, 61, 62 (fresh: 0-58 are used by earlier protocols and the confirmatory test)
  measures  linear probe top-1 (primary), kNN k=20 and k=200; directpred - default and
            directpred - linpred, paired, with 95 % t intervals; collapse (the run's monitor)
Reading, declared: the implementation check passes when no directpred run collapses and its
mean linear probe is no more than 1 point below the default's (the paper's "comparable"). The
differences are reported as a screen (three seeds, a paired SD near 0.5-1.1 points): a pass
or a fail on either comparison is a candidate for a confirmatory test, not a result.

    python benchmarks/directpred.py [--jobs 1]     # 9 runs, about 1.5 h on two idle cores; resumable
    python benchmarks/directpred.py --report OUT   # the tables of the runs finished in OUT, archived

Runs go to benchmarks/out/directpred/ (ignored by git); their small files and the tables are
archived in benchmarks/results/directpred/ after every call and restored from there first. The
finished archive is packed (benchmarks/archive.py): `python benchmarks/archive.py unpack
benchmarks/results/directpred /tmp/directpred`, then `--report /tmp/directpred`, gives its tables again.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import ceiling  # noqa: E402  (the CPU protocol, archive and restore)

from nasiam.compare import compare  # noqa: E402

PROTOCOL = dict(ceiling.PROTOCOL)
SEEDS = "60,61,62"
ROWS = "default,linpred,directpred"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (default: 2, one thread each)")
    parser.add_argument("--report", metavar="OUT", default=None, help="train nothing: tables of the runs in OUT")
    parser.add_argument("--quick", action="store_true", help="tiny synthetic budget, to check the pipeline")
    args = parser.parse_args(argv)
    keep = ROOT / "benchmarks" / "results" / "directpred"
    if args.quick:
        out = ROOT / "benchmarks" / "out" / "directpred-quick"
        compare(ROWS, seeds="0,1", out=out, options=ceiling.QUICK, jobs=args.jobs)
        print((out / "results.md").read_text())
        return
    if args.report:
        out = Path(args.report)
        ceiling.report_only(ROWS, SEEDS, out, PROTOCOL)
        ceiling.archive(out, keep)
    else:
        out = ROOT / "benchmarks" / "out" / "directpred"
        ceiling.run_archived(ROWS, SEEDS, out, keep, PROTOCOL, args.jobs)
    print((out / "results.md").read_text())


if __name__ == "__main__":
    main()
