"""Does the search's architecture signal rise above noise? (issue #21, item 1)

The CPU search's decisions sat at the level pure-noise gradients reach through the same
optimiser (~165 architecture steps, Adam beta1 0.5). This screens search policies by the two
things a real signal shows and noise does not, before any head is trained:
  above noise   decisions whose winning probability beats the 95th percentile of what the
                same policy reaches on pure-noise gradients over the same number of steps
                (`summary.json` "decisions", `nasiam.search.decisions`)
  agreement     for each decision, the share of seeds that chose the option most seeds chose
                (mean over decisions); a real preference repeats across seeds, noise does not
                (chance, when every seed picks uniformly: 0.75 for 2 options, 0.56 for 4, 0.45
                for 8 with 3 seeds; the table gives the chance level of the same decisions)
and the search's cost (train seconds).

The protocol, fixed in writing before the first run (benchmarks/RESULTS.md repeats it):
  search    the default `nasiam search` (SimSiam, resnet10t, Fashion-MNIST, 12,000-image subset,
            8 epochs, bilevel first-order DARTS), with --knn_subset 2000 (the final kNN is not
            read here)
  variants  default    the policy as it is: arch_lr 0.03, betas 0.5/0.999, one update per step
            k4         4 updates per weight step on the cached features of the last 4
                       architecture batches (--arch_steps_per_step 4)
            k4-b09     k4 with Adam beta1 0.9 (--arch_betas 0.9,0.999), which averages about 10
                       steps' gradients before they move a logit
  seeds     30, 31, 32 (fresh)
Reading, declared: a variant replaces the default policy when, against the default, it has
more decisions above noise (mean over seeds) AND a higher agreement, at no more than 1.5x the
default's search seconds. It screens the signal, not head quality: the confirmatory test
(benchmarks/confirmatory.py) judges the heads.

    python benchmarks/search_signal.py             # 9 searches, ~45 min on two idle CPU cores; resumable
    python benchmarks/search_signal.py --quick     # the pipeline on tiny synthetic data (a minute)
    python benchmarks/search_signal.py --report    # tables from the runs so far

Runs go to benchmarks/out/search_signal/ (ignored by git); each run's summary.json and
genotype.json are archived in benchmarks/results/search_signal/ after every run, and restored
from there first (from its pack, benchmarks/archive.py, now that the screen is finished).
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from archive import loose, updating  # noqa: E402  (the finished screen's archive is packed)

# spelled out: "default" is the policy as it was when the screen was declared (since then the
# default is k4-b09, the screen's outcome), so the archived runs stay what they say
VARIANTS = {"default": ["--arch_steps_per_step=1", "--arch_betas=0.5,0.999"],
            "k4": ["--arch_steps_per_step=4", "--arch_betas=0.5,0.999"],
            "k4-b09": ["--arch_steps_per_step=4", "--arch_betas=0.9,0.999"]}
SEEDS = (30, 31, 32)
BASE = ["--knn_subset=2000", "--log_every_n_steps=50"]
QUICK = ["--dataset=synthetic", "--subset=256", "--image_size=16", "--batch_size=32", "--epochs=2",
         "--num_workers=0", "--proj_hidden_dim=32", "--proj_output_dim=32", "--pred_hidden_dim=16",
         "--knn_subset=64", "--knn_k=10", "--widths=16,32"]
SMALL_FILES = ("summary.json", "genotype.json")
ARCHIVING = threading.Lock()   # runs finish in parallel threads; a packed archive takes one at a time


def run_one(name: str, seed: int, out: Path, archive: Path, quick: bool) -> str:
    run = out / f"{name}-s{seed}"
    if (run / "summary.json").is_file():
        return f"{run.name}: done before"
    args = [sys.executable, "-m", "nasiam", "search", *(QUICK if quick else BASE), *VARIANTS[name],
            f"--seed={seed}", f"--out_dir={out}", f"--run_name={run.name}"]
    if (run / "checkpoints" / "last.ckpt").is_file():
        args.append("--resume")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    started = time.time()
    with open(out / f"{run.name}.log", "w") as log:
        code = subprocess.call(args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    if code == 0:
        with ARCHIVING, updating(archive) as kept:
            (kept / run.name).mkdir(parents=True, exist_ok=True)
            for f in SMALL_FILES:
                shutil.copy2(run / f, kept / run.name / f)
    return f"{run.name}: exit {code} in {(time.time() - started) / 60:.1f} min"


def restore(out: Path, archive: Path) -> None:
    with loose(archive) as kept:
        for run in kept.glob("*-s*"):
            if (run / "summary.json").is_file() and not (out / run.name / "summary.json").is_file():
                (out / run.name).mkdir(parents=True, exist_ok=True)
                for f in SMALL_FILES:
                    shutil.copy2(run / f, out / run.name / f)


def chance_agreement(options: int, seeds: int) -> float:
    """The expected share of seeds on the modal option when each seed picks uniformly."""
    import itertools

    total = 0.0
    for picks in itertools.product(range(options), repeat=seeds):
        total += collections.Counter(picks).most_common(1)[0][1] / seeds
    return total / options ** seeds


def report(out: Path) -> str:
    rows = []
    by_variant: dict[str, list[dict]] = collections.defaultdict(list)
    for name in VARIANTS:
        for seed in SEEDS:
            path = out / f"{name}-s{seed}" / "summary.json"
            if path.is_file():
                by_variant[name].append(json.loads(path.read_text()))
    lines = ["| variant | seeds | arch steps | decisions above noise (mean) | agreement across seeds | "
             "chance agreement | search s (mean) | genotypes |", "|---|---|---|---|---|---|---|---|"]
    for name, summaries in by_variant.items():
        above = [s.get("decisions_above_noise", 0) for s in summaries]
        total = len(summaries[0]["decisions"]) if summaries else 0
        picks, sizes = collections.defaultdict(list), {}
        for s in summaries:
            for d in s["decisions"]:
                picks[(d["head"], d["layer"], d["choice"])].append(str(d["option"]))
                sizes[(d["head"], d["layer"], d["choice"])] = d.get("options") or round(1 / d["uniform"])
        chance = (sum(chance_agreement(sizes[k], len(summaries)) for k in picks) / max(1, len(picks)))
        agreement = (sum(collections.Counter(v).most_common(1)[0][1] / len(v) for v in picks.values())
                     / max(1, len(picks)))
        seconds = sum(s["train_seconds"] for s in summaries) / max(1, len(summaries))
        steps = "/".join(str(s.get("arch_steps", "?")) for s in summaries)
        genotypes = "<br>".join(" | ".join(s["genotypes"].values()) for s in summaries)
        lines.append(f"| {name} | {len(summaries)} | {steps} | {sum(above) / max(1, len(above)):.1f} of {total} | "
                     f"{agreement:.2f} | {chance:.2f} | {seconds:.0f} | {genotypes} |")
        rows.append(name)
    per_decision = ["", "Per decision (best option, p / noise floor, per seed):", "",
                    "| variant | decision | " + " | ".join(f"seed {s}" for s in SEEDS) + " |",
                    "|---|---|" + "---|" * len(SEEDS)]
    for name, summaries in by_variant.items():
        keys = [(d["head"], d["layer"], d["choice"]) for d in summaries[0]["decisions"]] if summaries else []
        for key in keys:
            cells = []
            for s in summaries:
                d = next(d for d in s["decisions"] if (d["head"], d["layer"], d["choice"]) == key)
                mark = "**" if d.get("above_noise") else ""
                cells.append(f"{mark}{d['option']} {d['probability']:.2f}/{d.get('noise_floor', float('nan')):.2f}{mark}")
            per_decision.append(f"| {name} | {key[0]} {key[1]} {key[2]} | " + " | ".join(cells) + " |")
    return "\n".join(lines + per_decision) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--report", action="store_true", help="only write the tables of the runs so far")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    out = ROOT / "benchmarks" / "out" / ("search_signal_quick" if args.quick else "search_signal")
    # the quick pipeline check archives next to its runs, never into results/
    archive = out / "archive" if args.quick else ROOT / "benchmarks" / "results" / "search_signal"
    out.mkdir(parents=True, exist_ok=True)
    restore(out, archive)
    if not args.report:
        jobs = [(name, seed) for seed in SEEDS for name in VARIANTS]
        with ThreadPoolExecutor(args.jobs) as pool:
            for line in pool.map(lambda j: run_one(*j, out, archive, args.quick), jobs):
                print(line, flush=True)
    table = report(out)
    archive.mkdir(parents=True, exist_ok=True)
    (archive / "results.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
