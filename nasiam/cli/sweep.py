"""`nasiam sweep`: run a sweep file locally with Optuna."""
from __future__ import annotations

import argparse
import dataclasses
import sys

from nasiam.cli.common import EXIT_OK, EXIT_USAGE, _as_usage_errors
from nasiam.config import SearchConfig, require_package


@_as_usage_errors
def cmd_sweep(args) -> int:
    require_package("nasiam sweep runs the sweep with Optuna", ("optuna",), "optuna", "run it with `wandb agent`")
    from nasiam.runner.sweep import run_sweep
    from nasiam.runner.sweep_file import format_value

    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(SearchConfig) if hasattr(args, f.name)}
    result = run_sweep(args.config, args.trials, overrides, out_dir=args.sweep_dir, name=args.name,
                       seed=args.sweep_seed)
    best = result["best"]
    print(f"\n{result['finished']} trials finished, {result['pruned']} pruned; results in {result['directory']}/ "
          f"({', '.join(result['files'])})")
    grid = result.get("grid")
    if grid and grid["unvisited"]:
        print(f"{grid['unvisited']} of the grid's {grid['points']} points left unvisited: run again with "
              f"--trials {grid['points']} (or without --trials) to visit them; the study continues where it stopped")
    if best:
        print(f"best: trial {best['trial']} with "
              + ", ".join(f"{k}={format_value(v)}" for k, v in best["params"].items()))
    if not result["finished"]:
        # a trial refused before its run started has no folder, no log: its error line is the record
        print(f"nasiam sweep: error: no trial finished (each trial's error is printed above as 'trial N failed: "
              f"...'; {result['directory']}/results.md lists them); the sweep found nothing", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def add_parser(sub) -> None:
    sweep = sub.add_parser("sweep", help="run a sweep file locally with Optuna (its method and hyperband "
                                         "early_terminate; SQLite, resumable)",
                           description="Run recipes/sweeps/*.yaml (W&B sweep files) locally as an Optuna study "
                                       "stored in SQLite (re-running continues it). The file's method is honoured: "
                                       "grid enumerates its values (GridSampler), random draws (RandomSampler), "
                                       "bayes is TPE. early_terminate: {type: hyperband, min_iter or max_iter "
                                       "and s, eta} stops trials not in the top 1/eta at W&B's hyperband epochs "
                                       "(SuccessiveHalvingPruner); without it every trial runs to the end. Other "
                                       "options are passed to every trial.")
    sweep.add_argument("--config", required=True, metavar="SWEEP.yaml", help="a sweep file (recipes/sweeps/)")
    sweep.add_argument("--trials", type=int, default=None,
                       help="finished trials to reach (default: the grid's size for method: grid, else 10; "
                            "a grid caps it at its size)")
    sweep.add_argument("--sweep_dir", "--sweep-dir", default="runs/sweeps", help="where sweeps live (default: runs/sweeps)")
    sweep.add_argument("--name", default=None, help="study name (default: the sweep file's name)")
    sweep.add_argument("--sweep_seed", "--sweep-seed", type=int, default=0,
                       help="seed of the grid's order, the random draws and TPE (default: 0)")
    group = sweep.add_argument_group("options passed to every trial")
    for f in dataclasses.fields(SearchConfig):
        names = [f"--{f.name}"] + ([f"--{f.name.replace('_', '-')}"] if "_" in f.name else [])
        if f.name != "config":
            group.add_argument(*names, dest=f.name, default=argparse.SUPPRESS, nargs="?", const="true",
                               help=argparse.SUPPRESS)
    sweep.set_defaults(handler=cmd_sweep, config_cls=SearchConfig)
