"""Heads of SimCLR, MoCo v2 and MoCo v3 at the CPU protocol (issue #32 item 5): does any head,
the searched one included, beat the method's default? Declared 2026-12-06 (tenth session),
before any of its runs; benchmarks/RESULTS.md repeats it.

Every measurement of the search so far is SimSiam's. This screen asks the same question as the
SimSiam ceiling screen (benchmarks/ceiling.py) for the other three methods, one framework per
call, with the ceiling screen's protocol and evaluation:

  data      Fashion-MNIST (Debian's dataset-fashion-mnist); each seed trains on its own seeded
            subset of 10,000 train images
  model     timm resnet10t (default stem, 1 channel, 512 features); the method's loss and
            options at nasiam's defaults (temperature 0.2; MoCo v2's queue 4,096; MoCo's EMA
            schedule), projector hidden width 512, output 128 (MoCo v3: 256, predictor hidden 512)
  training  batch 256, SGD lr 0.05, weight decay 5e-4, cosine, 12 epochs
  eval      primary: the linear probe (converged L-BFGS on the frozen features of all 60,000
            train images, penalty chosen on a held-out fifth, scored on the 10,000 test images);
            secondary: kNN on the full train bank, k=20 (T=0.07) and k=200 (T=0.1)
  rows      simclr  default   SimCLR's projector as nasiam (lightly, the TF code) builds it:
                              Linear-BN-ReLU, Linear-BN
                    nobn      the same without BatchNorm (SimCLR v1 as solo-learn builds it)
                    v2        SimCLR v2's 3-layer projector (BN-ReLU twice, then Linear-BN)
                    wide      the default with its hidden layer 2048 wide (4x the features)
            mocov2  default   MoCo v2's projector: Linear-ReLU-Linear, no BN
                    bn        BN after both Linears (SimCLR's, MoCo v3's lesson)
                    v3proj    MoCo v3's projector: BN-ReLU, then Linear-BN without affine
                    wide      the default with its hidden layer 2048 wide
            mocov3  default   MoCo v3's ResNet heads: projector BN-ReLU > BN(no affine);
                              predictor BN-ReLU > Linear
                    proj3     the 3-layer projector (MoCo v3's ViT recipe)
                    linpred   a trained linear predictor Linear(256, 256), no bias
                    nopredbn  the predictor's hidden layer without BatchNorm
            every   search    `nasiam search` with the method's defaults (the default path), its
                              head trained from scratch
                    random    random:2, two distinct heads drawn uniformly over the default
                              search space's canonical architectures, the same two on every seed
  seeds     simclr 100-102, mocov2 110-112, mocov3 120-122 (fresh), paired
Reading, declared: a head "beats the default" when its paired mean difference on the linear
probe is >= 0.5 points and its 95 % t interval lies above 0 (issue #32's bar for a confirmatory
test of that framework's search to follow). Three seeds make this a screen, not a result; the
search's cost (its seconds over the default's) is reported beside it.

    python benchmarks/framework_screen.py [--jobs 2]    # all three in turn: 3 x (7 rows x 3 seeds + 3 searches)
    python benchmarks/framework_screen.py --framework simclr   # one: 24 runs, ~2.5 h on two cores; resumable
    python benchmarks/framework_screen.py --framework simclr --report OUT
    python benchmarks/framework_screen.py --framework simclr --quick     # the pipeline, tiny data

    bash benchmarks/frozen.sh start framework_screen COMMIT     # all three, from a frozen worktree

Runs go to benchmarks/out/framework_screen/FRAMEWORK/; small files archived in
benchmarks/results/framework_screen/FRAMEWORK/ after every call and restored from there first.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import ceiling  # noqa: E402  (archive, restore, run_archived, report_only)

from nasiam.presets import (mocov2_projector, mocov3_predictor, mocov3_projector, simclr_projector,  # noqa: E402
                            simsiam_projector)
from nasiam.rundir import write_search_genotypes  # noqa: E402
from nasiam.space.genotype import Genotype, LayerSpec  # noqa: E402

BASE = {"dataset": "fashion_mnist", "subset": 10000, "batch_size": 256, "backbone": "resnet10t",
        "proj_hidden_dim": 512, "proj_output_dim": 128, "pred_hidden_dim": 512, "lr": 0.05, "weight_decay": 5e-4,
        "epochs": 12, "knn_subset": "none", "knn_k": 200, "knn_every": 0, "linear_probe": "true"}
OUTPUT_DIM = {"simclr": 128, "mocov2": 128, "mocov3": 256}
SEEDS = {"simclr": "100,101,102", "mocov2": "110,111,112", "mocov3": "120,121,122"}
QUICK = {"dataset": "synthetic", "subset": 256, "image_size": 16, "batch_size": 32, "epochs": 1, "num_workers": 0,
         "proj_hidden_dim": 32, "proj_output_dim": 16, "pred_hidden_dim": 16, "knn_subset": 128, "knn_k": 20}


def protocol(framework: str) -> dict:
    return {**BASE, "framework": framework, "proj_output_dim": OUTPUT_DIM[framework]}


def _chain(name: str, layers: list[LayerSpec]) -> Genotype:
    return Genotype(layers=tuple(layers), meta={"preset": name, "source": "benchmarks/framework_screen.py"})


def heads(framework: str, hidden: int, out: int, pred_hidden: int) -> dict[str, dict[str, Genotype]]:
    """The fixed rows other than `default` (compare's own row): {row: {slot: genotype}}."""
    if framework == "simclr":
        return {"nobn": {"projector": mocov2_projector(hidden, out)},
                "v2": {"projector": _chain("simclr_v2_projector", [LayerSpec(hidden, "batchnorm", "relu"),
                                                                   LayerSpec(hidden, "batchnorm", "relu"),
                                                                   LayerSpec(out, "batchnorm", fixed=True)])},
                "wide": {"projector": simclr_projector(4 * hidden, out)}}
    if framework == "mocov2":
        return {"bn": {"projector": simclr_projector(hidden, out)},
                "v3proj": {"projector": mocov3_projector(hidden, out)},
                "wide": {"projector": mocov2_projector(4 * hidden, out)}}
    if framework == "mocov3":
        projector, predictor = mocov3_projector(hidden, out), mocov3_predictor(pred_hidden, out)
        return {"proj3": {"projector": simsiam_projector(hidden, out), "predictor": predictor},
                "linpred": {"projector": projector,
                            "predictor": _chain("linear_predictor", [LayerSpec(out, "none", bias=False, fixed=True)])},
                "nopredbn": {"projector": projector,
                             "predictor": _chain("mocov3_predictor_no_bn", [LayerSpec(pred_hidden, "none", "relu"),
                                                                            LayerSpec(out, "none", bias=False,
                                                                                      fixed=True)])}}
    raise SystemExit(f"framework_screen: --framework must be simclr, mocov2 or mocov3, got {framework!r}")


def write_heads(directory: Path, framework: str, options: dict) -> str:
    """The genotype files of the fixed rows; returns compare's --heads."""
    rows = ["default"]
    dims = (int(options["proj_hidden_dim"]), int(options["proj_output_dim"]), int(options["pred_hidden_dim"]))
    for name, genotypes in heads(framework, *dims).items():
        path = directory / name / "genotype.json"
        write_search_genotypes(path, framework, genotypes)
        rows.append(f"{name}={path}")
    return ",".join([*rows, "search", "random:2"])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--framework", default="simclr,mocov2,mocov3",
                        help="one framework or a comma list, screened in that order (default: all three)")
    parser.add_argument("--quick", action="store_true", help="tiny synthetic budget, to check the pipeline")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (default: 2, one thread each)")
    parser.add_argument("--report", metavar="OUT", default=None,
                        help="train nothing: write the tables of the runs finished in OUT and archive them here")
    args = parser.parse_args(argv)
    frameworks = args.framework.split(",")
    for framework in frameworks:
        heads(framework, 1, 1, 1)   # an unknown name stops here, before any run
    for framework in frameworks:
        screen(framework, args)


def screen(framework: str, args: argparse.Namespace) -> None:
    keep = ROOT / "benchmarks" / "results" / "framework_screen" / framework
    if args.report:
        out, options = Path(args.report), protocol(framework)
        ceiling.report_only(write_heads(out / "fixed_heads", framework, options), SEEDS[framework], out, options)
        ceiling.archive(out, keep)
        print((out / "results.md").read_text())
        return
    if args.quick:
        options = {**QUICK, "framework": framework, **({"queue_size": 64} if framework == "mocov2" else {})}
        out = ROOT / "benchmarks" / "out" / "framework_screen_quick" / framework
        from nasiam.compare import compare
        compare(write_heads(out / "fixed_heads", framework, options), seeds=[0], out=out, options=options,
                jobs=args.jobs)
    else:
        out, options = ROOT / "benchmarks" / "out" / "framework_screen" / framework, protocol(framework)
        ceiling.run_archived(write_heads(out / "fixed_heads", framework, options), SEEDS[framework], out, keep,
                             options, args.jobs)
    print((out / "results.md").read_text())


if __name__ == "__main__":
    main()
