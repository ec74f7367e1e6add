"""Does the searched head train better representations? (issue #5)

The CPU protocol, fixed once (change it and you have a different benchmark):
  data      Fashion-MNIST train, a seeded subset of 12,000 images (the run's seed); kNN memory
            bank: 5,000 train images; test: the 10,000 test images; k=200, T=0.1
  model     SimSiam, timm resnet10t (default stem, 1 channel), projector hidden/out 512,
            predictor hidden 128, 2-layer projector (the CIFAR variant)
  training  batch 256, SGD lr 0.05 x batch/256, weight decay 5e-4, cosine, fixed predictor lr
  budget    16 epochs of weight training over the 12,000 images (192,000 image passes)
Rows, each with seeds 0, 1, 2 (paired: a seed fixes the subset, init and augmentation):
  1. default   the standard SimSiam heads, 16 epochs
  2. paper     the NASiam paper's SimSiam CIFAR-10 genotype (built at these dims), 16 epochs
  3. searched  the head `nasiam search` finds (default demo: 8 epochs, bilevel, weights on
               6,000 images, logits on the other 6,000), trained from scratch for 16 epochs;
               the search's cost is reported apart
  4. one-stage continue from the search's preserved backbone and head weights for the
               remaining budget: the search trained the weights on 8 x 6,000 = 48,000 image
               passes (4 epochs' worth), so 12 more epochs
Optional rows (`--strategies tpe random`, issue #6): the multi-trial searches on the same
search budget (a supernet trained on random paths for the same 8 epochs, then 40 genotypes
scored with its shared weights), their heads trained from scratch for 16 epochs.
Every run is a `nasiam` process (the commands are printed); finished runs are skipped, so an
interrupted benchmark continues where it stopped.

    python benchmarks/head_quality.py                  # ~2 h on two CPU cores
    python benchmarks/head_quality.py --quick          # a smoke test of the pipeline
    python benchmarks/head_quality.py --strategies tpe random --strategy-seeds 0   # + TPE/random rows
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nasiam.eval.plots import plot_curves  # noqa: E402
from nasiam.presets import NASIAM_SIMSIAM_CIFAR10_RESNET18, nasiam_paper_simsiam  # noqa: E402
from nasiam.runner.outputs import write_search_genotypes  # noqa: E402


def nasiam(*args: str) -> None:
    cmd = [sys.executable, "-m", "nasiam", *args]
    print("$ nasiam " + " ".join(args), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def summary(run_dir: Path) -> dict | None:
    path = run_dir / "summary.json"
    return json.loads(path.read_text()) if path.is_file() else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out-dir", default="benchmarks/out/head_quality")
    parser.add_argument("--quick", action="store_true", help="tiny budget, to check the pipeline")
    parser.add_argument("--strategies", nargs="*", default=[], choices=["tpe", "random", "gumbel", "darts2"],
                        help="other search strategies to compare with DARTS on the same search budget")
    parser.add_argument("--strategy-seeds", type=int, nargs="+", default=None,
                        help="seeds for the --strategies rows (default: --seeds)")
    args = parser.parse_args(argv)
    out = (ROOT / args.out_dir).resolve()
    epochs, search_epochs, subset, knn_every = (2, 2, 1024, 1) if args.quick else (16, 8, 12000, 2)
    remaining = epochs - search_epochs // 2  # the search trains the weights on half the images per epoch
    common = ["--framework=simsiam", "--dataset=fashion_mnist", f"--subset={subset}", "--batch_size=256",
              "--backbone=resnet10t", "--proj_hidden_dim=512", "--proj_output_dim=512", "--pred_hidden_dim=128",
              "--proj_layers=2", "--lr=0.05", "--weight_decay=5e-4", "--knn_subset=5000", "--knn_k=200",
              f"--out_dir={out}"]
    paper_dir = out / "paper_genotype"
    projector, predictor = nasiam_paper_simsiam(NASIAM_SIMSIAM_CIFAR10_RESNET18["encoder"],
                                                NASIAM_SIMSIAM_CIFAR10_RESNET18["predictor"], in_dim=512, dim=512,
                                                pred_dim=128)
    write_search_genotypes(paper_dir / "genotype.json", "simsiam", {"projector": projector, "predictor": predictor})

    search_args = [f"--epochs={search_epochs}", "--widths=128,256,512,1024", "--arch_lr=0.03", "--warmup_epochs=1"]
    rows: dict[str, list[dict]] = {"default": [], "paper": [], "searched": [], "one-stage": []}
    searches: list[dict] = []
    for seed in args.seeds:
        s = [f"--seed={seed}"]
        search_dir = out / f"search-{seed}"
        if summary(search_dir) is None:
            nasiam("search", *common, *s, *search_args, f"--run_name=search-{seed}")
        searches.append(summary(search_dir))
        plan = {"default": ["--head=default", f"--epochs={epochs}"],
                "paper": [f"--head={paper_dir}", f"--epochs={epochs}"],
                "searched": [f"--head={search_dir}", f"--epochs={epochs}"],
                "one-stage": [f"--init={search_dir}", f"--epochs={remaining}"]}
        for row, extra in plan.items():
            name = f"{row}-{seed}"
            if summary(out / name) is None:
                nasiam("pretrain", *common, *s, *extra, f"--knn_every={knn_every}", f"--run_name={name}")
            rows[row].append(summary(out / name))

    other_searches: dict[str, list[dict]] = {}
    for strategy in args.strategies:
        row = f"searched ({strategy})"
        rows[row], other_searches[strategy] = [], []
        for seed in args.strategy_seeds or args.seeds:
            search_dir = out / f"search-{strategy}-{seed}"
            if summary(search_dir) is None:
                nasiam("search", *common, f"--seed={seed}", *search_args, f"--strategy={strategy}",
                       f"--run_name={search_dir.name}")
            other_searches[strategy].append(summary(search_dir))
            name = f"searched-{strategy}-{seed}"
            if summary(out / name) is None:
                nasiam("pretrain", *common, f"--seed={seed}", f"--head={search_dir}", f"--epochs={epochs}",
                       f"--knn_every={knn_every}", f"--run_name={name}")
            rows[row].append(summary(out / name))

    def mean_std(values):
        if len(values) == 1:
            return f"{values[0]:.2f} (one seed)"  # a std of 0.00 would read as a measured spread
        return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"

    print("\n| row | head | kNN top-1 (%) mean ± std | per seed | wall time per run (s) |")
    print("|---|---|---|---|---|")
    for row, runs in rows.items():
        heads = " / ".join(runs[0]["heads"].values())
        per_seed = ", ".join(f"{r['knn_top1']:.1f}" for r in runs)
        walls = ", ".join(f"{r['train_seconds']:.0f}" for r in runs)  # per run: a busy machine shows in one
        print(f"| {row} | {heads} | {mean_std([r['knn_top1'] for r in runs])} | {per_seed} | {walls} |")
    strategy_seeds = args.strategy_seeds or args.seeds
    for strategy, runs in {"darts": searches, **other_searches}.items():
        print(f"\nsearch, {strategy} ({search_epochs} epochs): kNN {mean_std([s['knn_top1'] for s in runs])}, "
              f"{statistics.mean(s['train_seconds'] for s in runs):.0f} s per search; genotypes:")
        for seed, s in zip(args.seeds if strategy == "darts" else strategy_seeds, runs):
            print(f"  seed {seed}: " + " | ".join(f"{k}: {v}" for k, v in s["genotypes"].items()))
    curves = {}
    for row, runs in rows.items():
        offset = search_epochs // 2 if row == "one-stage" else 0  # on the same budget axis
        curves[row] = [(h["epoch"] + offset, h["knn_top1"]) for r in runs for h in r["epochs"]
                       if h.get("knn_top1") is not None]
    path = plot_curves(curves, out / "head_quality.png", title="SimSiam on Fashion-MNIST, resnet10t, 3 seeds")
    print(f"\ncurves: {path}")
    (out / "results.json").write_text(json.dumps({"rows": rows, "searches": {"darts": searches, **other_searches}},
                                                 indent=1))


if __name__ == "__main__":
    main()
