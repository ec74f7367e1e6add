"""`nasiam sweep`: the sweep files of recipes/sweeps/ run locally with Optuna, no W&B server.

A sweep file is a W&B sweep configuration (`wandb sweep recipes/sweeps/x.yaml` runs it on W&B,
`wandb agent` then drives `nasiam search --key=value`). Here the same file becomes an Optuna
study: TPE sampler, SQLite storage in the sweep's directory (re-running continues the study
up to `--trials`), and median pruning of trials whose per-epoch metric trails the others'.
Each trial is a `nasiam search` run in this process.
"""
from __future__ import annotations

import csv
import io
import json
import sys
import warnings
from pathlib import Path
from typing import Any, Mapping

from nasiam._io import atomic_write_bytes, atomic_write_text
from nasiam.config import ConfigError, SearchConfig, field_types, load_config, parse_value, read_yaml_file

__all__ = ["read_sweep", "run_sweep"]

_DISTRIBUTIONS = {"uniform", "log_uniform_values", "int_uniform", "q_uniform", "q_log_uniform_values", "categorical",
                  "constant"}


def read_sweep(path: str | Path) -> dict[str, Any]:
    """The sweep file, checked for what `nasiam sweep` needs: a metric, and parameters that
    are `nasiam search` options with values of their type."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"--config: no sweep file at {path} (see recipes/sweeps/)")
    sweep = read_yaml_file(path, "sweep file")
    if not isinstance(sweep, dict) or not isinstance(sweep.get("parameters"), dict) or not sweep["parameters"]:
        raise ConfigError(f"{path}: a sweep needs a 'parameters' mapping")
    metric = sweep.get("metric")
    if not isinstance(metric, dict) or not isinstance(metric.get("name"), str) or \
            metric.get("goal", "minimize") not in ("minimize", "maximize"):
        raise ConfigError(f"{path}: 'metric' needs a name and a goal (minimize or maximize)")
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
        elif spec.get("distribution", "uniform") in _DISTRIBUTIONS and "min" in spec and "max" in spec:
            parse_value(name, spec["min"], types[name])
        else:
            raise ConfigError(f"{path}: parameter {name!r}: supported are value, values and the distributions "
                              f"{', '.join(sorted(_DISTRIBUTIONS))} with min and max")
    return sweep


def _suggest(trial, name: str, spec: Mapping[str, Any]) -> Any:
    if "value" in spec:
        return spec["value"]
    if "values" in spec:
        # Optuna's categories must be scalars: lists (e.g. widths) travel as JSON text
        encoded = [json.dumps(v) if isinstance(v, (list, dict)) else v for v in spec["values"]]
        value = trial.suggest_categorical(name, encoded)
        return json.loads(value) if isinstance(value, str) and value[:1] in "[{" else value
    distribution = spec.get("distribution", "uniform")
    low, high = spec["min"], spec["max"]
    if distribution == "int_uniform":
        return trial.suggest_int(name, int(low), int(high))
    step = spec.get("q") if distribution.startswith("q_") else None
    return trial.suggest_float(name, float(low), float(high), log="log" in distribution,
                               step=None if "log" in distribution else step)


MAX_TRIALS = 10_000


def run_sweep(sweep_path: str | Path, trials: int, overrides: Mapping[str, Any], out_dir: str = "runs/sweeps",
              name: str | None = None, seed: int = 0, verbose: bool = True) -> dict[str, Any]:
    """Run (or continue) the study until it holds `trials` finished trials; returns the best."""
    import optuna

    from nasiam.runner.search import SearchRun

    if not 1 <= trials <= MAX_TRIALS:
        raise ConfigError(f"--trials must be between 1 and {MAX_TRIALS}, got {trials}")
    if not 0 <= seed < 2 ** 32:
        raise ConfigError(f"--sweep_seed must be in [0, 2**32), got {seed}")
    sweep = read_sweep(sweep_path)
    name = name or Path(sweep_path).stem
    if not name or "/" in name or name in (".", "..") or len(name.encode()) > 200:
        raise ConfigError(f"--name: {name[:60]!r} must be a plain directory name inside --sweep_dir")
    directory = Path(out_dir) / name
    directory.mkdir(parents=True, exist_ok=True)
    metric, goal = sweep["metric"]["name"], sweep["metric"].get("goal", "minimize")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    storage = optuna.storages.RDBStorage(f"sqlite:///{directory / 'optuna.db'}", heartbeat_interval=60,
                                         grace_period=180)  # a killed run's trial is failed, then retried
    study = optuna.create_study(study_name=name, storage=storage, load_if_exists=True,
                                direction="maximize" if goal == "maximize" else "minimize",
                                sampler=optuna.samplers.TPESampler(seed=seed),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1))
    done = [t for t in study.trials if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)]

    def objective(trial) -> float:
        params = {k: _suggest(trial, k, spec) for k, spec in sweep["parameters"].items()}
        cfg = load_config(SearchConfig, None, {**overrides, **params, "out_dir": str(directory / "trials"),
                                               "run_name": f"trial-{trial.number}", "resume": None, "devices": 1})
        run = SearchRun(cfg, verbose=False)

        def report(epoch: int, metrics: Mapping[str, Any]) -> None:
            if metrics.get(metric) is not None:
                trial.report(float(metrics[metric]), epoch)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"{metric} {metrics[metric]:.4g} trails the median at epoch {epoch + 1}")

        run.epoch_callbacks.append(report)
        summary = run.execute()
        value = summary.get(metric)
        if value is None:
            raise ConfigError(f"the sweep's metric {metric!r} is not in the search's summary "
                              "(e.g. knn_top1, loss, arch_loss, collapse_std)")
        trial.set_user_attr("genotypes", summary["genotypes"])
        if verbose:
            swept = {k: v for k, v in params.items() if "value" not in sweep["parameters"][k]}
            print(f"trial {trial.number}: {metric} {value:.4g}  " + "  ".join(f"{k}={v}" for k, v in swept.items()),
                  flush=True)
        return float(value)

    remaining = max(0, trials - len(done))
    def guarded(trial) -> float:
        """A combination the search refuses, missing data or a failing run fails that trial, not
        the study, with one line saying why (Optuna would log a traceback)."""
        from nasiam.data import DataNotFoundError
        from nasiam.runner.errors import RunError

        try:
            return objective(trial)
        except (ConfigError, DataNotFoundError, RunError, RuntimeError, ValueError, KeyError) as e:
            message = str(e.args[0] if isinstance(e, KeyError) and e.args else e).splitlines()[0][:300]
            trial.set_user_attr("error", f"{type(e).__name__}: {message}")
            print(f"trial {trial.number} failed: {message}", file=sys.stderr, flush=True)
            return float("nan")   # Optuna records a failed trial

    if remaining:
        optuna.logging.set_verbosity(optuna.logging.ERROR)   # the failures are reported above, in one line each
        study.optimize(guarded, n_trials=remaining)
    return _report(study, directory, metric, verbose)


def _report(study, directory: Path, metric: str, verbose: bool) -> dict[str, Any]:
    import optuna

    finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    names = sorted({k for t in study.trials for k, d in t.distributions.items()
                    if not (hasattr(d, "choices") and len(d.choices) == 1)})
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["trial", "state", metric, *names, "genotypes"])
    for t in study.trials:
        writer.writerow([t.number, t.state.name.lower(), t.value, *[t.params.get(n) for n in names],
                         json.dumps(t.user_attrs.get("genotypes"))])
    atomic_write_text(directory / "results.csv", buffer.getvalue())
    lines = [f"| trial | state | {metric} | " + " | ".join(names) + " |", "|---" * (len(names) + 3) + "|"]
    for t in study.trials:
        value = "" if t.value is None else f"{t.value:.4g}"
        lines.append(f"| {t.number} | {t.state.name.lower()} | {value} | "
                     + " | ".join(str(t.params.get(n, "")) for n in names) + " |")
    atomic_write_text(directory / "results.md", "\n".join(lines) + "\n")
    if finished:
        _plot(study, directory / "history.png", metric)
    best = study.best_trial if finished else None
    result = {"directory": str(directory), "finished": len(finished), "pruned": len(pruned),
              "best": None if best is None else {"trial": best.number, metric: best.value, "params": best.params,
                                                 "genotypes": best.user_attrs.get("genotypes")}}
    if verbose:
        print("\n".join(lines))
    return result


def _plot(study, path: Path, metric: str) -> None:
    import optuna
    from matplotlib.figure import Figure  # no pyplot: no global state, no backend choice in library code

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
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    atomic_write_bytes(path, buffer.getvalue())
