"""The SimSiam test (issue #32 item 4): is the default `nasiam search` path as good as the best
known head, DirectPred's closed-form predictor, and better than SimSiam's default head?
Declared 2026-12-06 (twelfth session) before any of its runs; benchmarks/RESULTS.md repeats it.

  protocol  benchmarks/ceiling.py's PROTOCOL (SimSiam, timm resnet10t, Fashion-MNIST, a seeded
            10,000-image subset per seed, batch 256, SGD 0.05, weight decay 5e-4, cosine,
            12 epochs), from a frozen worktree of the declaring commit
  rows      default     SimSiam's default heads (projector 512-512, predictor 512-128-512)
            directpred  the default projector with DirectPred's closed-form predictor
            search      `nasiam search` as it ships at the declaring commit (its defaults:
                        `--space siam --below_noise prior`, 8 epochs), the exported head
                        trained from scratch by `nasiam pretrain`
  metric    primary: the cross-fitted linear probe (benchmarks/crossfit_eval.py, adopted
            2026-12-06: its top-1 over the 60,000 labelled images the run never trained on);
            beside it: the standard linear probe (10,000 test images), kNN k=20 and k=200
  seeds     stage 1: 200-211; stage 2: 212-223 (fresh), paired by seed
  reading   search - directpred and search - default, paired by seed, at two looks (after
            stage 1, n = 12; after stage 2, n = 24), each with a one-sided nominal level from
            O'Brien-Fleming's boundary for two equally spaced looks (0.0026, then 0.0240; 0.025
            overall): the lower bound mean - t(n-1, 1 - level) * sd / sqrt(n).
            Met at a look: search - directpred's lower bound above -0.25 (non-inferior) AND
            search - default's lower bound above 0; then the test stops.
            Stopped at look 1 as failed: search - directpred's mean below -0.25, or search -
            default's mean below 0. Otherwise stage 2 runs and look 2 decides, met or missed.
            Issue #32's single-run safety, reported at the deciding look: the share of seeds on
            which the search loses to the default (difference < 0; target at most 1 in 10) and
            to DirectPred (difference < 0; ties, an identical head trained identically, are not
            losses), and the decisions of every search (the predictor family, the decisions above
            noise, the fallbacks to the prior).
            The cross-fitted probe's untested criterion (RESULTS.md: "sign agreement"): before look
            1 is read, every pair of runs of one stage-1 seed whose standard difference exceeds
            twice its test-sample SD must have a cross-fitted difference of the same sign; if one
            does not, the standard probe is the primary metric instead, at both looks.
  secondary long        `default(--epochs=20)` on seeds 200-205: the default head given the
                        search's compute (12 x 1.65: the search measured 0.65x a pretraining
                        run on this protocol): "search, or train longer?", answered when the
                        95 % t interval of search - long excludes 0; at 6 seeds it detects a
                        1-point difference at a paired SD of 0.6 with about 80 % power
            random      random:6 on seeds 200-202: six distinct heads drawn uniformly over the
                        `siam` space's canonical architectures, the same six on every seed; the
                        search - panel-mean interval as `nasiam compare` reports it (the fixed
                        panel's and the heads-as-random-effect one)
  cost      per seed 3 pretraining runs, one search (~0.65 of a run) and the cross-fitted
            probe (~0.35 of a run, each run; copied where the search's head and backbone equal
            DirectPred's bit for bit); about 33 min a seed on two idle cores: stage 1 ~6.6 h,
            stage 2 ~6.6 h, long ~1.3 h, random ~2.6 h. Run in the order stage 1, long, look 1,
            stage 2 (if it runs), random.

    bash benchmarks/frozen.sh start search_vs_best COMMIT      # resumable, across sessions
    python benchmarks/search_vs_best.py --report OUT            # the reading of the runs in OUT
    python benchmarks/search_vs_best.py --quick                 # the pipeline on tiny data

Runs go to benchmarks/out/search_vs_best/; every finished run's small files (and its
eval/crossfit.*) are archived in benchmarks/results/search_vs_best/ after every seed.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import ceiling  # noqa: E402  (PROTOCOL, QUICK, archive, restore)
from archive import updating  # noqa: E402

PRIMARY = "default,directpred,search"
STAGES = ([*range(200, 212)], [*range(212, 224)])
LEVELS = (0.0026, 0.0240)         # one-sided nominal levels at looks 1 and 2 (O'Brien-Fleming)
MARGIN = -0.25                    # non-inferiority margin against DirectPred, points
LONG, LONG_SEEDS = "long=default(--epochs=20)", [*range(200, 206)]
RANDOM, RANDOM_SEEDS = "random:6", [*range(200, 203)]
CROSSFIT = ("eval/crossfit.json", "eval/crossfit.safetensors")
OUT = ROOT / "benchmarks" / "out" / "search_vs_best"
KEEP = ROOT / "benchmarks" / "results" / "search_vs_best"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def archive(out: Path, keep: Path) -> None:
    """The compare tables and every finished run's small files, its cross-fitted probe too."""
    ceiling.archive(out, keep)
    with updating(keep) as keep:
        for run in sorted((out / "runs").glob("*")):
            for name in CROSSFIT:
                if (run / name).is_file():
                    (keep / "runs" / run.name / name).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(run / name, keep / "runs" / run.name / name)


def crossfit_all(out: Path, jobs: int) -> None:
    """The cross-fitted probe of every finished pretraining run that lacks one. A search row's
    run whose head and backbone equal the same seed's directpred run bit for bit gets a copy of
    that run's (recorded as copied_from); a run archived without its backbone (a new machine)
    is moved aside, to be trained again by the next compare call."""
    runs = out / "runs"
    todo = []
    for run in sorted(runs.glob("*-s*")):
        summary = run / "summary.json"
        if not summary.is_file() or (run / CROSSFIT[0]).is_file():
            continue
        if json.loads(summary.read_text()).get("command") != "pretrain":
            continue
        if not (run / "backbone.safetensors").is_file():
            (out / "aside").mkdir(exist_ok=True)
            shutil.move(str(run), str(out / "aside" / f"{run.name}.{len(list((out / 'aside').iterdir()))}"))
            print(f"{run.name}: archived without its backbone, moved to {out / 'aside'} to be trained again", flush=True)
            continue
        todo.append(run)
    copies = {}
    for run in todo:
        label, seed = run.name.rsplit("-s", 1)
        twin = runs / f"directpred-s{seed}"
        if label == "search" and (twin / "backbone.safetensors").is_file() and \
                _sha256(twin / "backbone.safetensors") == _sha256(run / "backbone.safetensors") and \
                (twin / "heads").is_dir() and _heads_equal(twin, run):
            copies[run] = twin
    first = [r for r in todo if r not in copies]
    for i in range(0, len(first), jobs):   # `jobs` evaluations at a time, one thread each
        procs = [subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "crossfit_eval.py"), str(run)],
                                  env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"})
                 for run in first[i:i + jobs]]
        for proc in procs:
            proc.wait()
    for run, twin in copies.items():
        if (twin / CROSSFIT[0]).is_file():
            for name in CROSSFIT:
                shutil.copy2(twin / name, run / name)
            record = json.loads((run / CROSSFIT[0]).read_text())
            (run / CROSSFIT[0]).write_text(json.dumps({**record, "run": run.name, "copied_from": twin.name},
                                                      indent=2) + "\n")


def _heads_equal(a: Path, b: Path) -> bool:
    files = sorted(p.relative_to(a) for p in (a / "heads").rglob("*") if p.is_file())
    return files == sorted(p.relative_to(b) for p in (b / "heads").rglob("*") if p.is_file()) and \
        all(_sha256(a / f) == _sha256(b / f) for f in files if f.suffix == ".safetensors")


def run(rows: str, seeds: list[int], options: dict, jobs: int, table: str | None = None) -> None:
    """One compare call per seed (so each seed's runs are cross-fitted while their backbones
    are still here), archived after each; `table`: keep the last call's results.md as TABLE
    (compare writes results.md for the rows and seeds of its call)."""
    from nasiam.compare import compare

    crossfit_all(OUT, jobs)   # first: runs restored without their backbone go aside, to be trained again
    for i, seed in enumerate(seeds):
        try:
            compare(rows, seeds=seeds[:i + 1], out=OUT, options=options, jobs=jobs)
            crossfit_all(OUT, jobs)
            if table:
                shutil.copy2(OUT / "results.md", OUT / table)
        finally:
            archive(OUT, KEEP)


def _scores(out: Path, label: str, seeds: list[int]) -> dict[str, dict[int, float]]:
    scores: dict[str, dict[int, float]] = {"crossfit": {}, "linear": {}, "knn20": {}, "knn200": {}}
    for seed in seeds:
        run = out / "runs" / f"{label}-s{seed}"
        if (run / "summary.json").is_file():
            summary = json.loads((run / "summary.json").read_text())
            scores["linear"][seed] = summary["linear_top1"]
            scores["knn20"][seed], scores["knn200"][seed] = summary["knn20_top1"], summary["knn200_top1"]
        if (run / CROSSFIT[0]).is_file():
            scores["crossfit"][seed] = json.loads((run / CROSSFIT[0]).read_text())["crossfit_top1"]
    return scores


def bound(diffs: list[float], level: float) -> tuple[float, float]:
    """(mean, one-sided lower bound at `level`)."""
    from scipy.stats import t

    mean = statistics.mean(diffs)
    sd = statistics.stdev(diffs) if len(diffs) > 1 else float("inf")
    return mean, mean - t.ppf(1 - level, len(diffs) - 1) * sd / len(diffs) ** 0.5


def sign_check(out: Path) -> tuple[bool, str]:
    """The cross-fitted probe's sign criterion over the stage-1 seeds' pairs (declared above)."""
    import itertools

    from crossfit_eval import _paired

    clear, agree = 0, 0
    for seed in STAGES[0]:
        runs = [out / "runs" / f"{label}-s{seed}" for label in ("default", "directpred", "search")]
        for a, b in itertools.combinations(runs, 2):
            p = _paired(a, b)
            if abs(p["standard"]["diff"]) > 2 * p["standard"]["sample_var"] ** 0.5:
                clear += 1
                agree += (p["standard"]["diff"] > 0) == (p["crossfit"]["diff"] > 0)
    return agree == clear, f"sign check (stage 1): {agree} of {clear} clear pairs agree in sign"


def look(out: Path, k: int) -> tuple[str, str]:
    """The declared reading at look k (1 or 2): (verdict, text). verdict: met, failed, continue,
    incomplete."""
    seeds = [s for stage in STAGES[:k] for s in stage]
    rows = {label: _scores(out, label, seeds) for label in ("default", "directpred", "search")}
    if any(len(rows[label]["crossfit"]) < len(seeds) for label in rows):
        return "incomplete", f"look {k}: not every run of seeds {seeds[0]}-{seeds[-1]} has its cross-fitted probe"
    signs_agree, sign_text = sign_check(out)
    primary = "crossfit" if signs_agree else "linear"
    lines = [f"look {k}: seeds {seeds[0]}-{seeds[-1]} (n = {len(seeds)}), one-sided level {LEVELS[k - 1]}",
             f"  {sign_text}: primary metric {primary}"]
    verdicts = {}
    for other, threshold in (("directpred", MARGIN), ("default", 0.0)):
        for metric in ("crossfit", "linear", "knn20", "knn200"):
            diffs = [rows["search"][metric][s] - rows[other][metric][s] for s in seeds]
            mean, low = bound(diffs, LEVELS[k - 1])
            losses = sum(d < 0 for d in diffs)
            lines.append(f"  search - {other:10s} {metric:8s} mean {mean:+.2f}, lower bound {low:+.2f}; "
                         f"loses on {losses}/{len(diffs)} seeds" + ("   (primary)" if metric == primary else ""))
            if metric == primary:
                verdicts[other] = (mean, low, threshold)
    met = all(low > threshold for _, low, threshold in verdicts.values())
    failed = k == 1 and any(mean < threshold for mean, _, threshold in verdicts.values())
    verdict = "met" if met else "failed" if failed else "continue" if k == 1 else "missed"
    lines.append(f"  verdict: {verdict}")
    return verdict, "\n".join(lines)


def searches(out: Path) -> str:
    lines = ["| seed | predictor | projector | above noise | fallbacks | search s / default s |", "|---|---|---|---|---|---|"]
    for run in sorted((out / "runs").glob("search*-s*"), key=lambda r: int(r.name.rsplit("-s", 1)[1])):
        summary = json.loads((run / "summary.json").read_text()) if (run / "summary.json").is_file() else {}
        if summary.get("command") != "search":
            continue
        seed = run.name.rsplit("-s", 1)[1]
        default = out / "runs" / f"default-s{seed}" / "summary.json"
        cost = (summary["wall_seconds"] / json.loads(default.read_text())["wall_seconds"]) if default.is_file() else None
        taken = [f for f in summary.get("selection", {}).get("fallbacks", []) if f.get("fallback") is not None]
        lines.append(f"| {seed} | {summary['genotypes'].get('predictor')} | {summary['genotypes'].get('projector')} | "
                     f"{summary.get('decisions_above_noise')} | {len(taken)} | "
                     f"{'-' if cost is None else f'{cost:.2f}'} |")
    return "\n".join(lines)


def reading(out: Path) -> str:
    parts = []
    for k in (1, 2):
        verdict, text = look(out, k)
        parts.append(text)
        if verdict != "continue":
            break
    # the long question on the look's primary metric (the sign check's choice, declared for both
    # looks), the other beside it
    long, search = _scores(out, "long", LONG_SEEDS), _scores(out, "search", LONG_SEEDS)
    primary = "crossfit" if sign_check(out)[0] else "linear"
    from nasiam.compare.stats import paired_difference

    for metric in (primary, *(m for m in ("linear", "crossfit") if m != primary)):
        d = paired_difference(search[metric], long[metric])
        if d is not None and d.n > 1:
            parts.append(f"search - long (equal compute), {metric}{' (primary)' if metric == primary else ''}, "
                         f"{d.n} seeds: {d.describe()} (95 % t interval)")
    parts.append(searches(out))
    return "\n\n".join(parts)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (default: 2, one thread each)")
    parser.add_argument("--report", metavar="OUT", default=None, help="train nothing: the reading of the runs in OUT")
    parser.add_argument("--quick", action="store_true", help="the pipeline on tiny synthetic data, one seed")
    args = parser.parse_args(argv)
    if args.report:
        print(reading(Path(args.report)))
        return
    if args.quick:
        global OUT, KEEP
        OUT, KEEP = ROOT / "benchmarks" / "out" / "search_vs_best_quick", ROOT / "benchmarks" / "out" / "sv_quick_keep"
        run(PRIMARY, [0], {**ceiling.QUICK, "linear_probe": "true"}, args.jobs)
        print(reading(OUT))
        return
    ceiling.restore(KEEP, OUT)
    run(PRIMARY, STAGES[0], ceiling.PROTOCOL, args.jobs)
    run(f"default,search,{LONG}", LONG_SEEDS, ceiling.PROTOCOL, args.jobs, "long.md")
    verdict, text = look(OUT, 1)
    print(text, flush=True)
    if verdict == "continue":
        run(PRIMARY, STAGES[1], ceiling.PROTOCOL, args.jobs)
    run(f"default,search,{RANDOM}", RANDOM_SEEDS, ceiling.PROTOCOL, args.jobs, "random_panel.md")
    done = [s for stage in STAGES for s in stage if (OUT / "runs" / f"search-s{s}" / "summary.json").is_file()]
    ceiling.report_only(PRIMARY, done, OUT, ceiling.PROTOCOL)   # results.md: the primary rows, every seed run
    (OUT / "reading.txt").write_text(reading(OUT) + "\n")
    archive(OUT, KEEP)
    print((OUT / "reading.txt").read_text())


if __name__ == "__main__":
    main()
