"""The ceiling of the head space (issue #22): does any head beat the default at this budget?

If no head of the space beats SimSiam's default head by a useful margin at the CPU budget, no
search can, and the confirmatory protocol has to move to a budget where heads matter. This
screens fixed heads chosen from the literature and from the searches so far, each against the
default, paired by seed, with nasiam's end-of-run evaluation.

The protocol, fixed in writing before the first run (benchmarks/RESULTS.md repeats it):
  data      Fashion-MNIST (Debian's dataset-fashion-mnist); each seed trains on its own seeded
            subset of 10,000 train images
  model     SimSiam, timm resnet10t (default stem, 1 channel, 512 features); the default heads
            at the CPU demo's dims: projector 512-512 (2 layers), predictor 512-128-512
  training  batch 256, SGD lr 0.05, weight decay 5e-4, cosine, fixed predictor lr, 12 epochs
            (the head_quality protocol's budget)
  eval      primary: the linear probe (converged L-BFGS logistic regression on the frozen
            features of all 60,000 train images, penalty chosen on a held-out fifth of them,
            scored on the 10,000 test images); secondary: kNN with all 60,000 train images as
            the bank, k=20 (T=0.07) and k=200 (T=0.1); per-image test predictions archived
  rows      default     the default heads
            proj3       a 3-layer projector 512-512-512 (SimSiam's ImageNet depth, lightly's)
            nohiddenbn  the projector's hidden layer without BatchNorm (Linear-ReLU)
            wide        the projector's hidden layer 2048 wide (4x the backbone's features)
            gelu        GELU instead of ReLU in the projector's and the predictor's hidden layers
            linpred     a trained linear predictor Linear(512, 512) (the weaker baseline of
                        DirectPred; the closed-form predictor is not in nasiam yet)
            consensus   what the searches of seeds 0-9 chose most (argmax and verified):
                        projector Linear(256)-GELU (no norm) > 512 BN; predictor
                        Linear(512) > Linear(512), no norm or activation (a linear map)
            random      random:2, a panel of two distinct heads drawn uniformly over the
                        default search space's canonical architectures (widths 128-1024,
                        3 norms, 8 activations, skippable), the same two on every seed
  seeds     20, 21, 22 (fresh: seeds 0-11 were used by earlier protocols), paired
Reading, declared: a head "beats the default by at least 1 linear point" when its paired mean
difference is >= 1.0 and its 95 % interval lies above 0. Three seeds make this a screen
(half-width of the interval about 1.2 points at the measured paired SD of 0.5): a head that
passes it is a candidate for a confirmatory test on fresh seeds, not a result.

    python benchmarks/ceiling.py            # 24 runs + 6 random: ~2.5 h on two CPU cores; resumable
    python benchmarks/ceiling.py --quick    # the pipeline on tiny synthetic data (minutes)
    python benchmarks/ceiling.py --report benchmarks/out/ceiling   # tables of the finished runs, archived

Runs go to benchmarks/out/ceiling/ (ignored by git); the small files of every run (summary,
config, the test predictions) and the tables are archived in benchmarks/results/ceiling/ after
every call and restored from there first, so the benchmark continues across sessions. The
finished archive is packed (benchmarks/archive.py); its tables again, from the packed runs:
`python benchmarks/archive.py unpack benchmarks/results/ceiling /tmp/ceiling`, then
`python benchmarks/ceiling.py --report /tmp/ceiling`.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from archive import loose, updating  # noqa: E402  (a finished protocol's archive is packed)

from nasiam.compare import compare  # noqa: E402
from nasiam.presets import simsiam_predictor, simsiam_projector, simsiam_projector_cifar  # noqa: E402
from nasiam.rundir import write_search_genotypes  # noqa: E402
from nasiam.space.genotype import Genotype, LayerSpec  # noqa: E402

PROTOCOL = {"framework": "simsiam", "dataset": "fashion_mnist", "subset": 10000, "batch_size": 256,
            "backbone": "resnet10t", "proj_hidden_dim": 512, "proj_output_dim": 512, "pred_hidden_dim": 128,
            "proj_layers": 2, "lr": 0.05, "weight_decay": 5e-4, "epochs": 12, "knn_subset": "none", "knn_k": 200,
            "knn_every": 0, "linear_probe": "true"}
QUICK = {"framework": "simsiam", "dataset": "synthetic", "subset": 256, "image_size": 16, "batch_size": 32,
         "epochs": 1, "num_workers": 0, "proj_hidden_dim": 32, "proj_output_dim": 32, "pred_hidden_dim": 16,
         "knn_subset": 128, "knn_k": 20}
SEEDS = "20,21,22"
SMALL_FILES = ("summary.json", "config.yaml", "genotype.json", "genotype.argmax.json", "eval/predictions.safetensors")


def _chain(name: str, layers: list[LayerSpec]) -> Genotype:
    return Genotype(layers=tuple(layers), meta={"preset": name, "source": "benchmarks/ceiling.py"})


def heads(dim: int, pred_dim: int) -> dict[str, dict[str, Genotype]]:
    """The fixed rows' {slot: genotype} at projector width `dim` and predictor bottleneck
    `pred_dim` (the protocol's 512 and 128)."""
    out_bn = LayerSpec(width=dim, norm="batchnorm_noaffine", fixed=True)
    plain_out = LayerSpec(width=dim, norm="none", fixed=True)
    projector, predictor = simsiam_projector_cifar(dim, dim), simsiam_predictor(pred_dim, dim)
    return {
        "proj3": {"projector": simsiam_projector(dim, dim), "predictor": predictor},
        "nohiddenbn": {"projector": _chain("projector_no_hidden_bn", [LayerSpec(dim, "none", "relu"), out_bn]),
                       "predictor": predictor},
        "wide": {"projector": simsiam_projector_cifar(4 * dim, dim), "predictor": predictor},
        "gelu": {"projector": _chain("projector_gelu", [LayerSpec(dim, "batchnorm", "gelu"), out_bn]),
                 "predictor": _chain("predictor_gelu", [LayerSpec(pred_dim, "batchnorm", "gelu"), plain_out])},
        "linpred": {"projector": projector, "predictor": _chain("linear_predictor", [LayerSpec(dim, "none",
                                                                                                bias=False, fixed=True)])},
        "consensus": {"projector": _chain("search_consensus_projector", [LayerSpec(dim // 2, "none", "gelu"), out_bn]),
                      "predictor": _chain("search_consensus_predictor", [LayerSpec(dim, "none", "identity"),
                                                                         plain_out])},
    }


def write_heads(directory: Path, dim: int, pred_dim: int) -> str:
    """The genotype files of the fixed rows; returns compare's --heads."""
    rows = ["default"]
    for name, genotypes in heads(dim, pred_dim).items():
        path = directory / name / "genotype.json"
        write_search_genotypes(path, "simsiam", genotypes)
        rows.append(f"{name}={path}")
    return ",".join([*rows, "random:2"])


def archive(out: Path, keep: Path) -> None:
    """Copy the tables and the small files of every finished run to `keep` (committed; into
    its pack if it is packed)."""
    with updating(keep) as keep:
        for name in ("compare.json", "results.md", "results.csv", "results.json", "comparison.png"):
            if (out / name).is_file():
                keep.mkdir(parents=True, exist_ok=True)
                shutil.copy2(out / name, keep / name)
        for path in sorted((out / "heads").glob("*/genotype.json")):
            (keep / "heads" / path.parent.name).mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, keep / "heads" / path.parent.name / path.name)
        for run in sorted((out / "runs").glob("*")):
            if (run / "summary.json").is_file():
                for name in SMALL_FILES:
                    if (run / name).is_file():
                        (keep / "runs" / run.name / name).parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(run / name, keep / "runs" / run.name / name)


def restore(keep: Path, out: Path) -> None:
    """Put archived runs back where `nasiam compare` looks for them (never over a run here);
    `keep` may be packed."""
    with loose(keep) as keep:
        for run in sorted((keep / "runs").glob("*")) if keep.is_dir() else []:
            if (out / "runs" / run.name / "summary.json").is_file():
                continue
            for path in run.rglob("*"):
                if path.is_file():
                    target = out / "runs" / run.name / path.relative_to(run)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, target)


def report_only(rows: str, seeds, out: Path, options: dict) -> None:
    """Train nothing: write the tables of the runs finished in `out` (results.md and the rest)."""
    from nasiam.compare import prepare
    from nasiam.compare.report import write_report

    plan, _ = prepare(rows, seeds, out, options)
    write_report(plan, out / "runs", out)


def run_archived(rows: str, seeds, out: Path, keep: Path, options: dict, jobs: int, threads: int | None = None) -> None:
    """`nasiam compare` in `out`, continuing from the runs archived in `keep` and archiving
    into it whatever happens (an interrupted call keeps what it finished)."""
    restore(keep, out)
    try:
        compare(rows, seeds=seeds, out=out, options=options, jobs=jobs, threads=threads)
    finally:
        archive(out, keep)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny synthetic budget, to check the pipeline")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (default: 2, one thread each)")
    parser.add_argument("--report", metavar="OUT", default=None,
                        help="train nothing: write the tables of the runs finished in OUT (a benchmarks/out/ceiling "
                             "of another worktree, say, while it still runs) and archive them here")
    args = parser.parse_args(argv)
    if args.report:
        out, keep = Path(args.report), ROOT / "benchmarks" / "results" / "ceiling"
        report_only(write_heads(out / "fixed_heads", 512, 128), SEEDS, out, PROTOCOL)
        archive(out, keep)
        print((out / "results.md").read_text())
        return
    name = "ceiling_quick" if args.quick else "ceiling"
    out, keep = ROOT / "benchmarks" / "out" / name, ROOT / "benchmarks" / "results" / name
    options = QUICK if args.quick else PROTOCOL
    if not args.quick:
        restore(keep, out)
    rows = write_heads(out / "fixed_heads", int(options["proj_output_dim"]), int(options["pred_hidden_dim"]))
    try:
        compare(rows, seeds=[0] if args.quick else SEEDS, out=out, options=options, jobs=args.jobs)
    finally:
        if not args.quick:
            archive(out, keep)
    print((out / "results.md").read_text())


if __name__ == "__main__":
    main()
