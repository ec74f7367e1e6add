"""A sweep file (a W&B sweep configuration) as `nasiam sweep` reads it: checked against the
`nasiam search` options, its grid, its hyperband (W&B's bands and stopping rule), and how a
parameter's spec becomes a trial's value."""
from __future__ import annotations

import difflib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from nasiam._io import not_a_file
from nasiam.config import ConfigError, SearchConfig, check_input_path, field_types, parse_value, read_yaml_file
from nasiam.errors import shown_path

# the W&B distributions drawn from a min and a max that Optuna can draw (not q_log_uniform_values:
# Optuna has no stepped log scale, and its q was dropped without a word, #33 probe 22, T4)
_DISTRIBUTIONS = {"uniform", "log_uniform_values", "int_uniform", "q_uniform"}
MAX_TRIALS = 10_000
MAX_STEPS = 10 ** 6   # a q_uniform's values: more is no grid, and Optuna's Decimal arithmetic fails (T3)


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
            _check_range(path, name, spec, types[name])
        else:
            raise ConfigError(f"{path}: parameter {name!r}: supported are value, values and the distributions "
                              f"{', '.join(sorted(_DISTRIBUTIONS))} with min and max (categorical takes values, "
                              "constant a value)")
    method = sweep.get("method")
    if not isinstance(method, str) or method not in _METHODS:
        raise ConfigError(f"{path}: 'method' must be one of {', '.join(_METHODS)} (got {repr(method)[:60]}); "
                          "e.g. `method: bayes`, what `nasiam sweep` ran before it read the method")
    if method == "grid":
        grid_space(path, sweep["parameters"])
    read_hyperband(path, sweep.get("early_terminate"))
    return sweep


_METHODS = ("grid", "random", "bayes")


def _check_range(path: Path, name: str, spec: Mapping[str, Any], kind: Any) -> None:
    """A distribution's min, max (and q) as the sampler needs them: min at most max, above 0 for
    a log scale, q above 0. Each trial failed with Optuna's words, naming no parameter, and the
    sweep ended with nothing (#33 probe 21, S11)."""
    distribution = str(spec.get("distribution", "uniform"))
    where = f"{path}: parameter {name!r} ({distribution})"
    low, high = parse_value(name, spec["min"], kind), parse_value(name, spec["max"], kind)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in (low, high)):
        raise ConfigError(f"{where}: min and max must be finite numbers (got {low!r} and {high!r}); "
                          "list other values as `values: [...]`")
    if low > high:
        raise ConfigError(f"{where}: min {low} is above max {high}; swap them")
    if "log" in distribution and low <= 0:
        example = f"e.g. min: {high / 100:g}" if high > 0 else "both above 0"
        raise ConfigError(f"{where}: a log scale needs min above 0 (got {low}); {example}")
    _check_draws_suit_option(where, name, distribution, low, high)
    if distribution == "q_uniform" and "q" in spec:
        _check_step(where, name, spec["q"], low, high)


def _check_draws_suit_option(where: str, name: str, distribution: str, low: float, high: float) -> None:
    """Whole numbers for an integer option, and int_uniform only between whole numbers: a uniform
    batch_size failed every trial ("cannot read 18.19"), and int_uniform's bounds 0.0001 and 0.01,
    truncated, trained every trial with lr 0 (#33 probe 22, T2)."""
    if isinstance(low, int) and distribution != "int_uniform":   # parse_value gave the option's type
        raise ConfigError(f"{where}: --{name} takes whole numbers, and {distribution} draws fractions: use "
                          "`distribution: int_uniform`, or list the values as `values: [...]`")
    if distribution == "int_uniform" and not (float(low).is_integer() and float(high).is_integer()):
        raise ConfigError(f"{where}: int_uniform draws whole numbers, and min {low} or max {high} is not one: use "
                          "`distribution: uniform` or `log_uniform_values` for fractions")


def _check_step(where: str, name: str, raw: Any, low: float, high: float) -> None:
    """q, the step between a q_uniform's values: above 0, at most the range, and at most MAX_STEPS
    steps in it (a q of 1e-300 crashed the sweep in Optuna, #33 probe 22, T3)."""
    q = parse_value(name, raw, float) if not isinstance(raw, bool) else None
    if q is None or not 0 < q < math.inf:
        raise ConfigError(f"{where}: q, the step between values, must be a number above 0 (got {raw!r})")
    steps = (high - low) / q
    if high > low and not 1 <= steps <= MAX_STEPS:
        fix = "raise q" if steps > MAX_STEPS else "lower q, or use `value:` for the one value"
        raise ConfigError(f"{where}: q {q:g} makes {steps:.3g} steps from min {low} to max {high}, "
                          f"{'more than ' + str(MAX_STEPS) if steps > MAX_STEPS else 'less than one (always min)'}; "
                          f"{fix}")


def _check_metric(path: str | Path, name: str) -> None:
    """The metric is one a trial (a `nasiam search` run) reports: a misspelt name was found
    only after the first trial had trained, minutes later (the sixth probe of #33)."""
    from nasiam.runner.search import SEARCH_METRICS

    if name not in SEARCH_METRICS:
        close = difflib.get_close_matches(name, SEARCH_METRICS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(f"{path}: metric: name {name[:80]!r} is not a number a `nasiam search` run "
                          f"reports; {hint}valid names: {', '.join(SEARCH_METRICS)}")


def grid_space(path: str | Path, parameters: Mapping[str, Any]) -> dict[str, list]:
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


def read_hyperband(path: str | Path, spec: Any) -> Hyperband | None:
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


def suggest(trial, name: str, spec: Mapping[str, Any]) -> Any:
    """The trial's value of the parameter `name`; what Optuna refuses, named as the parameter's
    (its Decimal error ended the sweep with a traceback, #33 probe 22, T3)."""
    try:
        return _suggest(trial, name, spec)
    except (ValueError, TypeError, ArithmeticError) as e:
        raise ConfigError(f"sweep parameter {name!r}: {str(e)[:200] or type(e).__name__}") from None


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
    step = float(spec["q"]) if distribution == "q_uniform" and "q" in spec else None
    return trial.suggest_float(name, float(low), float(high), log="log" in distribution, step=step)
