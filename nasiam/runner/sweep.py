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
import difflib
import io
import json
import math
import os
import signal
import sys
import warnings
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Any, Mapping, Sequence

from nasiam._io import atomic_write_bytes, atomic_write_text, not_a_file, remove_temporary_files
from nasiam.config import (
    DEMO_DATASETS,
    DEMO_SCALE,
    HOW_IT_RAN,
    ConfigError,
    SearchConfig,
    canonical,
    check_input_path,
    check_output_path,
    field_types,
    load_config,
    nearest_folder,
    parse_value,
    read_yaml_file,
)
from nasiam.errors import RunDirLockedError, RunError, RunInterrupted, shown_path
from nasiam.runner.lock import RunDirLock, describe_owner, read_owner

__all__ = ["format_value", "read_sweep", "run_sweep"]

_DISTRIBUTIONS = {"uniform", "log_uniform_values", "int_uniform", "q_uniform", "q_log_uniform_values", "categorical",
                  "constant"}
MAX_TRIALS = 10_000


def read_sweep(path: str | Path) -> dict[str, Any]:
    """The sweep file, checked for what `nasiam sweep` needs: a metric, and parameters that
    are `nasiam search` options with values of their type."""
    path = Path(path)
    check_input_path("--config", path, "a sweep file (YAML) at a shorter path")   # before is_file(), which raises
    if not path.is_file():
        kind = not_a_file(path)   # a FIFO is named from its metadata: reading it would block
        raise ConfigError(f"--config: {f'{shown_path(path)} is {kind}, not a sweep file' if kind else f'no sweep file at {shown_path(path)}'}"
                          " (see recipes/sweeps/)")
    sweep = read_yaml_file(path, "sweep file")
    if not isinstance(sweep, dict) or not isinstance(sweep.get("parameters"), dict) or not sweep["parameters"]:
        raise ConfigError(f"{path}: a sweep needs a 'parameters' mapping")
    metric = sweep.get("metric")
    if not isinstance(metric, dict) or not isinstance(metric.get("name"), str) or \
            metric.get("goal", "minimize") not in ("minimize", "maximize"):
        raise ConfigError(f"{path}: 'metric' needs a name and a goal (minimize or maximize)")
    _check_metric(path, metric["name"])
    types = field_types(SearchConfig)
    for name, spec in sweep["parameters"].items():
        if name not in types:
            raise ConfigError(f"{path}: parameter {name!r} is not a `nasiam search` option")
        if not isinstance(spec, dict):
            raise ConfigError(f"{path}: parameter {name!r} needs value, values or a distribution")
        if "value" in spec:
            parse_value(name, spec["value"], types[name])
        elif "values" in spec:
            if not isinstance(spec["values"], list) or not spec["values"]:
                raise ConfigError(f"{path}: parameter {name!r}: values must be a non-empty list")
            for v in spec["values"]:
                parse_value(name, v, types[name])
        # str(): a distribution given as a list would be unhashable
        elif str(spec.get("distribution", "uniform")) in _DISTRIBUTIONS and "min" in spec and "max" in spec:
            parse_value(name, spec["min"], types[name])
        else:
            raise ConfigError(f"{path}: parameter {name!r}: supported are value, values and the distributions "
                              f"{', '.join(sorted(_DISTRIBUTIONS))} with min and max")
    method = sweep.get("method")
    if not isinstance(method, str) or method not in _METHODS:
        raise ConfigError(f"{path}: 'method' must be one of {', '.join(_METHODS)} (got {repr(method)[:60]}); "
                          "e.g. `method: bayes`, what `nasiam sweep` ran before it read the method")
    if method == "grid":
        _grid_space(path, sweep["parameters"])
    _hyperband(path, sweep.get("early_terminate"))
    return sweep


_METHODS = ("grid", "random", "bayes")


def _check_metric(path: str | Path, name: str) -> None:
    """The metric is one a trial (a `nasiam search` run) reports: a misspelt name was found
    only after the first trial had trained, minutes later (the sixth probe of #33)."""
    from nasiam.runner.search import SEARCH_METRICS

    if name not in SEARCH_METRICS:
        close = difflib.get_close_matches(name, SEARCH_METRICS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(f"{path}: metric: name {name[:80]!r} is not a number a `nasiam search` run "
                          f"reports; {hint}valid names: {', '.join(SEARCH_METRICS)}")


def _grid_space(path: str | Path, parameters: Mapping[str, Any]) -> dict[str, list]:
    """The grid's points per swept parameter, encoded as `_suggest` asks for them. A grid
    needs `values` (W&B also enumerates int_uniform and q_uniform; not done here)."""
    space = {}
    for name, spec in parameters.items():
        if "value" in spec:
            continue   # a constant: one point, never suggested
        if "values" not in spec:
            raise ConfigError(f"{path}: `method: grid` needs `values` for every swept parameter, and {name!r} is a "
                              f"{spec.get('distribution', 'uniform')} distribution: list its points as "
                              f"`values: [...]`, or use `method: random` or `method: bayes`")
        space[name] = [_encode(v) for v in spec["values"]]
    size = math.prod(len(v) for v in space.values())
    if size > MAX_TRIALS:
        raise ConfigError(f"{path}: the grid has {size} points, more than {MAX_TRIALS}: "
                          "list fewer values, or use `method: random` or `method: bayes`")
    return space


_HYPERBAND_KEYS = ("type", "min_iter", "max_iter", "s", "eta", "strict")
_MOST_EPOCHS = 10 ** 9   # bands past this are never reached (and eta ** 100 would overflow a float)


@dataclass(frozen=True)
class Hyperband:
    """W&B's `early_terminate: {type: hyperband}`: the bands (how many values of the metric a
    run has logged when it is judged, ascending), eta, and whether the judgement is `strict`."""

    bands: tuple[int, ...]
    eta: float
    strict: bool = True


def _hyperband(path: str | Path, spec: Any) -> Hyperband | None:
    """The sweep file's hyperband, its bands computed as W&B computes them (wandb/sweeps,
    src/sweeps/hyperband_stopping.py, `hyperband_stop_runs`): with max_iter and s,
    int(max_iter / eta**k) for k = 1..s while that is at least 1; with min_iter,
    int(min_iter * eta**k). `strict` defaults to true, as W&B's schema fills it in
    (`"strict": {"default": true}` in its schema.json); None without early_terminate.
    """
    if spec is None:
        return None
    if not isinstance(spec, dict) or spec.get("type") != "hyperband":
        got = spec.get("type") if isinstance(spec, dict) else spec
        raise ConfigError(f"{path}: early_terminate: only `type: hyperband` is supported (got {repr(got)[:60]}); "
                          "give it min_iter (and eta), or remove early_terminate to run every trial to the end")
    unknown = sorted(str(k) for k in spec if k not in _HYPERBAND_KEYS)
    if unknown:
        raise ConfigError(f"{path}: early_terminate: unknown key(s) {', '.join(unknown)[:200]}; "
                          f"hyperband takes {', '.join(_HYPERBAND_KEYS)}")

    def whole(key: str, value: Any, least: int) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not float(value).is_integer() \
                or value < least or value > MAX_TRIALS:
            raise ConfigError(f"{path}: early_terminate: {key} must be a whole number from {least} to "
                              f"{MAX_TRIALS} (got {repr(value)[:60]})")
        return int(value)

    eta = spec.get("eta", 3)   # W&B's default
    if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not 1 < eta <= MAX_TRIALS:
        raise ConfigError(f"{path}: early_terminate: eta must be a number above 1 (W&B keeps the top 1/eta of the "
                          f"runs at each band), at most {MAX_TRIALS} (got {repr(eta)[:60]})")
    strict = spec.get("strict", True)
    if not isinstance(strict, bool):
        raise ConfigError(f"{path}: early_terminate: strict must be true or false (got {repr(strict)[:60]})")
    if "max_iter" in spec:   # W&B reads max_iter before min_iter
        band, bands = float(whole("max_iter", spec["max_iter"], 1)), []
        for _ in range(whole("s", spec.get("s"), 1)):
            band /= eta
            if band < 1:
                break
            bands.append(int(band))
        if not bands:
            raise ConfigError(f"{path}: early_terminate: max_iter / eta is below 1, so no epoch is left to stop "
                              "trials at: raise max_iter, or lower eta")
    elif "min_iter" in spec:
        band, bands = float(whole("min_iter", spec["min_iter"], 1)), []
        for _ in range(100):   # W&B's 100 bands
            if band > _MOST_EPOCHS:
                break
            bands.append(int(band))
            band *= eta
    else:
        raise ConfigError(f"{path}: early_terminate: hyperband needs min_iter (e.g. `min_iter: 2`), or max_iter with s")
    return Hyperband(tuple(sorted(set(bands))), float(eta), strict)


def hyperband_stops(history: Sequence[float], histories: Sequence[Sequence[float]], hyperband: Hyperband) -> bool:
    """Whether W&B's hyperband stops a running trial (hyperband_stop_runs, as cited above).

    `history` is the trial's metric so far, `histories` every trial's (its own included), each
    the finite values in the order they were logged, lower better (negated when maximising).
    The band that applies is the largest band at most len(history): band 3 is the third value
    logged (index 2), not the fourth. Its threshold is, of the values the trials logged at that
    band sorted best first, the one at index int(n / eta): the top 1/eta pass. The trial is
    stopped when its value at that band (strict) or its best value so far is worse.
    """
    passed = [band for band in hyperband.bands if band <= len(history)]
    if not passed:
        return False
    band = passed[-1]
    at_band = sorted(h[band - 1] for h in histories if len(h) >= band)
    threshold = at_band[int(1.0 / hyperband.eta * len(at_band))]   # W&B's r = 1 / eta, in its order of operations
    judged = history[band - 1] if hyperband.strict else min(history)
    return judged > threshold


class WandbHyperbandPruner:
    """`hyperband_stops` as an Optuna pruner (Optuna calls `prune(study, trial)` from
    `trial.should_prune()`; duck-typed, so this module imports Optuna only when a sweep runs).
    Optuna's own SuccessiveHalvingPruner has other rungs and judges a trial one epoch later."""

    def __init__(self, hyperband: Hyperband, maximize: bool):
        self.hyperband, self.sign = hyperband, -1.0 if maximize else 1.0

    def history(self, trial) -> list[float]:
        return [self.sign * v for _, v in sorted(trial.intermediate_values.items()) if math.isfinite(v)]

    def prune(self, study, trial) -> bool:
        histories = [self.history(t) for t in study.get_trials(deepcopy=False)]
        return hyperband_stops(self.history(trial), histories, self.hyperband)


def format_value(value: Any) -> str:
    """A parameter value as printed: floats to 4 significant digits (the files keep them exact)."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _encode(value: Any) -> Any:
    # Optuna's categories must be scalars: lists (e.g. widths) travel as JSON text
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def _suggest(trial, name: str, spec: Mapping[str, Any]) -> Any:
    if "value" in spec:
        return spec["value"]
    if "values" in spec:
        value = trial.suggest_categorical(name, [_encode(v) for v in spec["values"]])
        return json.loads(value) if isinstance(value, str) and value[:1] in "[{" else value
    distribution = spec.get("distribution", "uniform")
    low, high = spec["min"], spec["max"]
    if distribution == "int_uniform":
        return trial.suggest_int(name, int(low), int(high))
    step = spec.get("q") if distribution.startswith("q_") else None
    return trial.suggest_float(name, float(low), float(high), log="log" in distribution,
                               step=None if "log" in distribution else step)


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
    space = _grid_space(sweep_path, sweep["parameters"]) if method == "grid" else None
    if space is not None:
        size = math.prod(len(v) for v in space.values())
        if trials is not None and trials > size and verbose:
            print(f"--trials {trials} is more than the grid's {size} points: running {size}", flush=True)
        trials = size if trials is None else trials   # `remaining` below stops at the last unvisited point
    trials = 10 if trials is None else trials
    hyperband = _hyperband(sweep_path, sweep.get("early_terminate"))
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
    _check_same_sweep(study, sweep, directory, hyperband, overrides)
    _retry_killed_trials(study, storage, verbose)
    study.sampler = _sampler(method, space, seed, len(study.trials))   # after loading: it needs the trial count
    done = [t for t in study.trials if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)]

    def objective(trial) -> float:
        params = {k: _suggest(trial, k, spec) for k, spec in sweep["parameters"].items()}
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


SWEEP_ATTRIBUTE = "sweep"   # the study's user attribute holding the sweep file and options it was started with
# what the sweep gives each trial's run itself, whatever the command line says
_SET_PER_TRIAL = ("out_dir", "run_name", "resume", "devices")
# Options a study continues under whatever their value: where and how its trials ran, except the
# loader's workers, which draw the augmentations (one random stream each: `--num_workers 2` gives
# other views than 0, as another --seed does; #33 probe 16, M7).
_ANY_VALUE = tuple(name for name in HOW_IT_RAN if name != "num_workers")
_SWEEP_FIELDS = {f.name: f for f in fields(SearchConfig)}


def _trial_options(overrides: Mapping[str, Any], parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The command-line options passed to every trial that change what it computes, read as the
    trial reads them (`--epochs 3` and `--epochs=03`, `--precision bf16` and `bf16-mixed` alike):
    not those that say where it ran (_ANY_VALUE: --data_root, the logger...), those the sweep sets
    per trial, nor those its parameters set (they win over the command line)."""
    types = field_types(SearchConfig)
    options = {}
    for key, raw in overrides.items():
        name = key.replace("-", "_")
        if name in types and name not in _ANY_VALUE and name not in _SET_PER_TRIAL and name not in parameters:
            options[name] = canonical(name, parse_value(name, raw, types[name]))
    return options


def _sweep_form(sweep: Mapping[str, Any], hyperband: Hyperband | None = None,
                overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What decides a study's trials and their ranking: the file's method, metric and goal, every
    parameter (ranges, values and fixed values), its hyperband (which stops trials against the
    others), and the options given to every trial, as JSON would store them."""
    metric = sweep["metric"]
    form = {"version": RECORD_VERSION,
            "method": sweep["method"], "metric": metric["name"], "goal": metric.get("goal", "minimize"),
            "parameters": sweep["parameters"],
            "early_terminate": None if hyperband is None else asdict(hyperband),
            "options": _trial_options(overrides or {}, sweep["parameters"])}
    return json.loads(json.dumps(form, sort_keys=True, default=str))


_NOT_AN_OPTION = "(not an option of this nasiam)"
# 2: options read under their aliases' one name, --num_workers among them. A record without it
# (unversioned) left --num_workers out: it is compared without it, then recorded anew.
RECORD_VERSION = 2


def _usable(recorded: Any) -> dict[str, Any]:
    """The study's record as this nasiam reads it, or {} (none yet, or not one nasiam wrote: it
    is recorded anew) (#33 probe 17, N6: `parameters: "x"` gave a traceback)."""
    if not isinstance(recorded, dict) or not isinstance(recorded.get("parameters", {}), dict) or \
            not isinstance(recorded.get("options", {}), dict):
        return {}
    return recorded


def _given(options: Mapping[str, Any], name: str) -> Any:
    """An option's value for a trial: as given, else its default (the method's scale for the
    demo-scale options off the demo datasets, as `load_config` sets it)."""
    if name in options:
        return canonical(name, options[name])   # a record of before aliases were resolved (N2)
    field = _SWEEP_FIELDS.get(name)
    if field is None:   # recorded by another version of nasiam
        return _NOT_AN_OPTION
    if name in DEMO_SCALE and options.get("dataset", SearchConfig.dataset) not in DEMO_DATASETS:
        return None
    return field.default if field.default is not MISSING else field.default_factory()


def _as_given(value: Any) -> str:
    return "none" if value is None else format_value(value)   # as the command line takes it


def _option_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    names = sorted(name for name in set(before) | set(after) if _given(before, name) != _given(after, name))
    return [_cut(f"--{name} {_as_given(_given(before, name))} -> {_as_given(_given(after, name))}") for name in names]


def _cut(text: str) -> str:
    return text if len(text) <= 200 else text[:197] + "..."


def _file_changes(recorded: Mapping[str, Any], form: Mapping[str, Any]) -> list[str]:
    changes = []
    for key in ("method", "metric", "goal", "early_terminate"):
        before, after = recorded.get(key), form[key]
        if key not in recorded or before == after:
            continue
        if isinstance(before, dict) and isinstance(after, dict):   # hyperband: the fields that changed
            changes += [_cut(f"{key} {field} {before.get(field)!r} -> {after.get(field)!r}")
                        for field in sorted(set(before) | set(after)) if before.get(field) != after.get(field)]
        else:
            changes.append(_cut(f"{key} {before!r} -> {after!r}"))
    before, after = recorded.get("parameters") or {}, form["parameters"]
    for name in sorted(set(before) | set(after)):
        if before.get(name) != after.get(name):
            changes.append(_cut(f"parameter {name!r} " + ("added" if name not in before else "removed"
                                                          if name not in after else f"{before[name]} -> {after[name]}")))
    return changes


def _check_same_sweep(study, sweep: Mapping[str, Any], directory: Path, hyperband: Hyperband | None = None,
                      overrides: Mapping[str, Any] | None = None) -> None:
    """A study is continued only under the sweep file and trial options it was started with: under
    an edited file its trials (other epochs, other ranges) were ranked with the new ones in one
    table, a flipped goal was ignored, another metric's values were tabled under the new name, and
    a method made grid ran nothing or failed every trial (the fourteenth probe of #33, K2); under
    other options (`--epochs 3 --subset 32` after `--epochs 1`) or another hyperband the same
    (the fifteenth, L1, L2). A study started before (part of) this record is continued, and the
    part it lacks recorded then."""
    form = _sweep_form(sweep, hyperband, overrides)
    recorded = _usable(study.user_attrs.get(SWEEP_ATTRIBUTE))
    file_changes = _file_changes(recorded, form) if recorded else []
    options = recorded.get("options")
    now = form["options"]
    if recorded and recorded.get("version") != RECORD_VERSION and "num_workers" not in (options or {}):
        now = {k: v for k, v in now.items() if k != "num_workers"}   # a record that never held it (N1, P4)
    option_changes = _option_changes(options, now) if options is not None else []
    if not file_changes and not option_changes:
        if study.user_attrs.get(SWEEP_ATTRIBUTE) != form:
            study.set_user_attr(SWEEP_ATTRIBUTE, form)
        return
    changes = file_changes + option_changes
    shown = "; ".join(changes[:5])
    more = f"; and {len(changes) - 5} more" if len(changes) > 5 else ""
    what = " and ".join(part for part, changed in (("another sweep file", file_changes),
                                                   ("other options for its trials", option_changes)) if changed)
    fixes = ["restore the file the study was started with"] if file_changes else []
    if option_changes:
        given = " ".join(f"--{name} {_as_given(_given(options, name))}" for name in sorted(options))
        fixes.append(f"give the options it was started with ({given[:300] or 'none of them'})")
    raise ConfigError(f"the study in {shown_path(directory)} was started with {what} ({shown}{more}): continuing it "
                      "would rank the trials of both together. Pass --name NEW (or another --sweep_dir) for a new "
                      f"study, or {' and '.join(fixes)}")


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


def _run(trial) -> str:
    """The trial's run directory: a retry resumes the killed trial's (trials/trial-2 for trial 3),
    so the tables say where each trial's files are."""
    return f"trials/trial-{trial.user_attrs.get(RETRY_OF, trial.number)}"


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
                         json.dumps(t.user_attrs.get("genotypes")), _run(t)])
    atomic_write_text(directory / "results.csv", buffer.getvalue())

    def table(show) -> list[str]:
        lines = [f"| trial | state | {metric} | " + " | ".join(names) + " | run |", "|---" * (len(names) + 4) + "|"]
        for t in study.trials:
            value = "" if t.value is None else f"{t.value:.4g}"
            lines.append(f"| {t.number} | {_state(t)} | {value} | "
                         + " | ".join(show(t.params.get(n, "")) for n in names) + f" | {_run(t)} |")
        return lines

    atomic_write_text(directory / "results.md", "\n".join(table(str)) + "\n")   # the file keeps exact values
    if finished:
        _plot(study, directory / "history.png", metric)
    best = study.best_trial if finished else None
    result = {"directory": str(directory), "finished": len(finished), "pruned": len(pruned),
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
