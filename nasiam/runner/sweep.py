"""`nasiam sweep`: the sweep files of recipes/sweeps/ run locally with Optuna, no W&B server.

A sweep file is a W&B sweep configuration (`wandb sweep recipes/sweeps/x.yaml` runs it on W&B,
`wandb agent` then drives `nasiam search --key=value`). Here the same file becomes an Optuna
study stored in SQLite in the sweep's directory (re-running continues the study up to
`--trials`, under the sweep file it was started with: the study records it and refuses an edited
one), and honours what W&B would:

- `method`: `grid` enumerates every combination of the `values` (Optuna's GridSampler, in an
  order shuffled by `--sweep_seed`, so a partial grid is spread over it; `--trials` defaults to,
  and is capped at, the grid's size); `random` draws from the distributions (RandomSampler);
  `bayes` is TPE (TPESampler). Both are seeded by `--sweep_seed`.
- `early_terminate: {type: hyperband, ...}` stops a trial whose metric is not in the top
  1/eta at W&B's hyperband bands, by W&B's own rule (`hyperband_stops`). A trial that has
  run its last epoch is finished, never stopped. Without `early_terminate` every trial runs
  to the end, as on W&B.

Each trial is a `nasiam search` run in this process; one process drives a sweep directory at a
time (it holds the directory's lock). A trial that a killed `nasiam sweep` left running is
retried when the sweep is run again, resuming its run directory from its last checkpoint.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import signal
import sys
import warnings
from pathlib import Path
from typing import Any, Mapping

from nasiam._io import atomic_write_bytes, atomic_write_text, not_a_file, remove_temporary_files
from nasiam.config import ConfigError, SearchConfig, check_output_path, load_config, nearest_folder
from nasiam.errors import RunDirLockedError, RunError, RunInterrupted, shown_path
from nasiam.runner.lock import RunDirLock, describe_owner, read_owner
from nasiam.runner.sweep_file import (
    MAX_TRIALS,
    Hyperband,
    WandbHyperbandPruner,
    format_value,
    grid_space,
    read_hyperband,
    read_sweep,
    suggest,
)
from nasiam.runner.sweep_record import check_same_sweep

__all__ = ["run_sweep"]


def run_sweep(sweep_path: str | Path, trials: int | None, overrides: Mapping[str, Any],
              out_dir: str = "runs/sweeps", name: str | None = None, seed: int = 0,
              verbose: bool = True) -> dict[str, Any]:
    """Run (or continue) the study until it holds `trials` finished trials (default: a grid's
    size, else 10); return the best and, for a grid, how many points are left unvisited."""
    if trials is not None and not 1 <= trials <= MAX_TRIALS:
        raise ConfigError(f"--trials must be between 1 and {MAX_TRIALS}, got {trials}")
    if not 0 <= seed < 2 ** 32:
        raise ConfigError(f"--sweep_seed must be in [0, 2**32), got {seed}")
    check_output_path("--sweep_dir", out_dir)   # as --name below: each trial's lines name the folder
    nearest_folder("--sweep_dir", out_dir)   # a file there was exit 5, naming no option (#33 probe 12, I9)
    sweep = read_sweep(sweep_path)
    name = name or Path(sweep_path).stem
    # printable, as --run_name: a control character in a folder's name reached the terminal in
    # every line that names the sweep's directory
    if not name.strip() or name != name.strip() or "/" in name or name in (".", "..") or not name.isprintable() or \
            len(name.encode()) > 200:
        raise ConfigError(f"--name: {name[:60]!r} must be a plain directory name inside --sweep_dir (printable "
                          "characters only, no leading or trailing spaces, at most 200 bytes)")
    method = sweep["method"]
    space = grid_space(sweep_path, sweep["parameters"]) if method == "grid" else None
    if space is not None:
        size = math.prod(len(v) for v in space.values())
        if trials is not None and trials > size and verbose:
            print(f"--trials {trials} is more than the grid's {size} points: running {size}", flush=True)
        trials = size if trials is None else trials   # `remaining` below stops at the last unvisited point
    trials = 10 if trials is None else trials
    hyperband = read_hyperband(sweep_path, sweep.get("early_terminate"))
    directory = Path(out_dir) / name
    lock = _lock_sweep(directory)
    try:
        # a killed sweep's half-written tables; trials/ holds runs, each cleans its own folder
        remove_temporary_files(directory, recursive=False)
        return _run_study(sweep, directory, name, trials, space, hyperband, overrides, seed, verbose)
    finally:
        lock.release()


def _lock_sweep(directory: Path):
    """The sweep directory's lock (the runs' lock file), which `_retry_killed_trials` relies on."""
    lock = RunDirLock(directory, "sweep")
    try:
        return lock.acquire()
    except RunDirLockedError:
        owner = read_owner(lock.path)
        if not owner or owner.get("command") != "sweep":   # a planted link, another program's file: as worded
            raise
        raise RunDirLockedError(f"{directory} is in use by {describe_owner(owner)}: one `nasiam sweep` drives a "
                                "study at a time. Wait for it to end (or stop it), or pass another --name for a "
                                "separate study") from None


SQLITE_HEADER = b"SQLite format 3\x00"
_DATABASE_FIX = ("restore it from a copy, or move it away to start the study afresh (its trials' run folders are "
                 "kept), or pass another --name for a separate study")


def _check_database(path: Path) -> None:
    """The study's optuna.db, when there, is a SQLite database file. A FIFO there failed inside
    sqlalchemy ("disk I/O error"), text or another program's file with sqlalchemy's traceback,
    exit 1 (the sixth probe of #33). An empty file is an empty database to SQLite."""
    if not os.path.lexists(path):
        return
    kind = not_a_file(path)
    if kind:
        raise ConfigError(f"{shown_path(path)} (read) is {kind}, not the study's SQLite database; {_DATABASE_FIX}")
    with open(path, "rb") as f:
        header = f.read(len(SQLITE_HEADER))
    if header and header != SQLITE_HEADER:
        raise ConfigError(f"{shown_path(path)} (read) is not a SQLite database (it does not begin as one: damaged, "
                          f"or another program's file); {_DATABASE_FIX}")


def _run_study(sweep: Mapping[str, Any], directory: Path, name: str, trials: int,
               space: Mapping[str, list] | None, hyperband: Hyperband | None, overrides: Mapping[str, Any],
               seed: int, verbose: bool) -> dict[str, Any]:
    import optuna

    from nasiam.runner.search import SearchRun

    method = sweep["method"]
    size = None if space is None else math.prod(len(v) for v in space.values())
    metric, goal = sweep["metric"]["name"], sweep["metric"].get("goal", "minimize")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    import sqlalchemy.exc

    database = directory / "optuna.db"
    _check_database(database)
    try:
        storage = optuna.storages.RDBStorage(f"sqlite:///{database}")
        study = optuna.create_study(study_name=name, storage=storage, load_if_exists=True,
                                    direction="maximize" if goal == "maximize" else "minimize",
                                    # as on W&B: without early_terminate no trial is stopped
                                    pruner=optuna.pruners.NopPruner() if hyperband is None
                                    else WandbHyperbandPruner(hyperband, goal == "maximize"))
    except sqlalchemy.exc.DatabaseError as e:   # a damaged database behind a valid header
        raise ConfigError(f"{shown_path(database)} (read) could not be opened as the study's database "
                          f"({str(e.orig)[:120]}); {_DATABASE_FIX}") from None
    check_same_sweep(study, sweep, directory, hyperband, overrides)
    _retry_killed_trials(study, storage, verbose)
    study.sampler = _sampler(method, space, seed, len(study.trials))   # after loading: it needs the trial count
    done = [t for t in study.trials if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)]

    def objective(trial) -> float:
        params = {k: suggest(trial, k, spec) for k, spec in sweep["parameters"].items()}
        retry_of = trial.user_attrs.get(RETRY_OF)
        # a retry continues the killed trial's run directory from its last checkpoint (or starts it)
        run_name, resume = (f"trial-{trial.number}", None) if retry_of is None else (f"trial-{retry_of}", "auto")
        cfg = load_config(SearchConfig, None, {**overrides, **params, "out_dir": str(directory / "trials"),
                                               "run_name": run_name, "resume": resume, "devices": 1})
        run = SearchRun(cfg, verbose=False)
        carried = {int(epoch) for epoch, _ in trial.user_attrs.get(REPORTED, [])}
        for epoch, value in trial.user_attrs.get(REPORTED, []):   # the killed attempt's history, for hyperband
            trial.report(value, int(epoch))

        def report(epoch: int, metrics: Mapping[str, Any]) -> None:
            if metrics.get(metric) is None:
                return
            if epoch not in carried:   # a resumed run redoes the epoch it was killed in
                trial.report(float(metrics[metric]), epoch)
            # after the last epoch the run is finished: W&B judges running runs only
            if epoch + 1 < cfg.epochs and trial.should_prune():
                raise optuna.TrialPruned(f"{metric} {metrics[metric]:.4g} trails the others at epoch {epoch + 1}")

        run.epoch_callbacks.append(report)
        summary = run.execute()
        value = summary.get(metric)
        if value is None:
            raise ConfigError(f"the sweep's metric {metric!r} is not in the search's summary "
                              "(e.g. knn_top1, loss, arch_loss, collapse_std)")
        trial.set_user_attr("genotypes", summary["genotypes"])
        if verbose:
            swept = {k: v for k, v in params.items() if "value" not in sweep["parameters"][k]}
            print(f"trial {trial.number}: {metric} {value:.4g}  "
                  + "  ".join(f"{k}={format_value(v)}" for k, v in swept.items()), flush=True)
        return float(value)

    remaining = max(0, trials - len(done))
    if space is not None:   # a grid point that failed is not retried: it is visited (as GridSampler sees it)
        remaining = min(remaining, size - len(_visited(study, space)))

    def guarded(trial) -> float:
        """A combination the search refuses, missing data or a failing run fails that trial, not
        the study, with one line saying why (Optuna would log a traceback)."""
        from nasiam.data import DataNotFoundError

        try:
            return objective(trial)
        except RunInterrupted as e:
            # SIGTERM, Ctrl-C, SIGHUP: a request to stop the sweep, not a failure of this trial's
            # parameters (caught as one, the next trial started); its run has just written a
            # checkpoint, which the retry queued here resumes when the sweep runs again
            trial.set_user_attr("error", STOPPED)
            original = _queue_retry(study, study._storage.get_trial(trial._trial_id))
            raise RunInterrupted(f"stopped by {signal.Signals(e.signum).name} during trial {trial.number}, whose run "
                                 f"trials/trial-{original} wrote a checkpoint at that step: run the same `nasiam "
                                 "sweep` command again to retry it from there and go on", e.signum) from None
        except (ConfigError, DataNotFoundError, RunError, RuntimeError, ValueError, KeyError) as e:
            message = str(e.args[0] if isinstance(e, KeyError) and e.args else e).splitlines()[0][:300]
            trial.set_user_attr("error", f"{type(e).__name__}: {message}")
            print(f"trial {trial.number} failed: {message}", file=sys.stderr, flush=True)
            return float("nan")   # Optuna records a failed trial

    if remaining:
        optuna.logging.set_verbosity(optuna.logging.ERROR)   # the failures are reported above, in one line each
        study.optimize(guarded, n_trials=remaining)
    result = _report(study, directory, metric, verbose)
    if space is not None:
        result["grid"] = {"points": size, "unvisited": size - len(_visited(study, space))}
    return result


# A retried trial's user attributes: the number of the trial a killed sweep left running (whose
# run directory it resumes) and the [epoch, value] pairs that trial had reported.
RETRY_OF, REPORTED = "retry_of", "reported"
KILLED = "killed while running; retried"
STOPPED = "stopped by a signal while running; retried"


def _retry_killed_trials(study, storage, verbose: bool) -> None:
    """Trials left running (the sweep holds the directory's lock, so their process is dead):
    each is marked failed and queued again with its parameters, to resume its run directory.
    (Optuna's heartbeat would fail them only after a grace period, and retry nothing.)"""
    import optuna

    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        storage.set_trial_user_attr(trial._trial_id, "error", KILLED)   # before FAIL: a finished trial is read-only
        storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
        original = _queue_retry(study, trial)
        if verbose:
            print(f"trial {trial.number} was left running by a killed sweep: retrying it, resuming "
                  f"trials/trial-{original}", flush=True)


def _queue_retry(study, trial) -> int:
    """Queue `trial`'s parameters again, with the number of the run directory its retry resumes
    and the values it reported (for hyperband); return that number."""
    original = trial.user_attrs.get(RETRY_OF, trial.number)
    reported = [list(r) for r in sorted(trial.intermediate_values.items())]
    study.enqueue_trial(trial.params, user_attrs={RETRY_OF: original, REPORTED: reported})
    return original


def _sampler(method: str, space: Mapping[str, list] | None, seed: int, previous: int):
    import optuna

    if method == "grid":
        # The shuffled order must not change when the study is continued: GridSampler picks
        # points by trial number
        return optuna.samplers.GridSampler(space, seed=seed)
    # A continued study re-seeds with the number of trials already run: the same seed would
    # draw the first trials' parameters again (TPE's first trials are random draws too)
    seed = (seed + previous) % 2 ** 32
    return optuna.samplers.RandomSampler(seed=seed) if method == "random" else optuna.samplers.TPESampler(seed=seed)


def _visited(study, space: Mapping[str, list]) -> set[tuple]:
    """The grid points a finished (complete, pruned or failed) trial ran; a killed trial's point
    is visited by its retry."""
    points = {tuple(t.params.get(n) for n in space) for t in study.trials
              if t.state.is_finished() and not _killed(t)}
    return {p for p in points if all(v in space[n] for v, n in zip(p, space))}


def _killed(trial) -> bool:
    return trial.user_attrs.get("error") in (KILLED, STOPPED)


def _state(trial) -> str:
    """A killed or stopped trial is no failure of its parameters: its retry (a later trial)
    resumed its run."""
    if _killed(trial):
        return "killed, retried" if trial.user_attrs.get("error") == KILLED else "stopped, retried"
    return trial.state.name.lower()


def _run(trial, directory: Path) -> str:
    """The trial's run directory: a retry resumes the killed trial's (trials/trial-2 for trial 3),
    so the tables say where each trial's files are; empty for a failed trial refused before its
    run started, whose folder the table linked though it did not exist (#33 probe 21, S11)."""
    import optuna

    run = f"trials/trial-{trial.user_attrs.get(RETRY_OF, trial.number)}"
    never_started = trial.state == optuna.trial.TrialState.FAIL and not _killed(trial) and \
        not (directory / run).is_dir()
    return "" if never_started else run


def _report(study, directory: Path, metric: str, verbose: bool) -> dict[str, Any]:
    import optuna

    finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    names = sorted({k for t in study.trials for k, d in t.distributions.items()
                    if not (hasattr(d, "choices") and len(d.choices) == 1)})
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["trial", "state", metric, *names, "genotypes", "run"])
    for t in study.trials:
        writer.writerow([t.number, _state(t), t.value, *[t.params.get(n) for n in names],
                         json.dumps(t.user_attrs.get("genotypes")), _run(t, directory)])
    atomic_write_text(directory / "results.csv", buffer.getvalue())

    def table(show) -> list[str]:
        # cells joined as lists: with no swept parameter recorded, an empty join gave the header
        # a cell more than its delimiter row, and Markdown no table (#33 probe 21, S11)
        rows = [["trial", "state", metric, *names, "run"], ["---"] * (len(names) + 4)]
        for t in study.trials:
            value = "" if t.value is None else f"{t.value:.4g}"
            rows.append([str(t.number), _state(t), value, *[show(t.params.get(n, "")) for n in names],
                         _run(t, directory)])
        return ["| " + " | ".join(cells) + " |" for cells in rows]

    atomic_write_text(directory / "results.md", "\n".join(table(str)) + "\n")   # the file keeps exact values
    if finished:
        _plot(study, directory / "history.png", metric)
    best = study.best_trial if finished else None
    result = {"directory": str(directory), "finished": len(finished), "pruned": len(pruned),
              # what is there to look at: no history.png without a finished trial (#33 probe 22, T11)
              "files": ["results.md", "results.csv", *(["history.png"] if finished else []), "optuna.db"],
              "best": None if best is None else {"trial": best.number, metric: best.value, "params": best.params,
                                                 "genotypes": best.user_attrs.get("genotypes")}}
    if verbose:
        print("\n".join(table(format_value)))
    return result


def _plot(study, path: Path, metric: str) -> None:
    import optuna
    from matplotlib.figure import Figure  # no pyplot: no global state, no backend choice in library code

    from nasiam.runner.outputs import figure_png

    points = [(t.number, t.value) for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    better = max if study.direction == optuna.study.StudyDirection.MAXIMIZE else min
    best, running = [], None
    for _, v in points:
        running = v if running is None else better(running, v)
        best.append(running)
    fig = Figure(figsize=(6, 3.6))
    ax = fig.add_subplot()
    ax.scatter([p[0] for p in points], [p[1] for p in points], s=14, label="trial")
    ax.plot([p[0] for p in points], best, color="C1", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_write_bytes(path, figure_png(fig))
