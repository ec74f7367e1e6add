"""The record a sweep's Optuna study keeps of what decides its trials (the sweep file's method,
metric, goal, parameters and hyperband, and the options given to every trial), and the check that
a study is continued only under them."""
from __future__ import annotations

import json
from dataclasses import MISSING, asdict, fields
from pathlib import Path
from typing import Any, Mapping

from nasiam.config import (
    DEMO_DATASETS,
    DEMO_SCALE,
    HOW_IT_RAN,
    ConfigError,
    SearchConfig,
    canonical,
    field_types,
    parse_value,
)
from nasiam.errors import shown_path
from nasiam.runner.sweep_file import Hyperband, format_value

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


def check_same_sweep(study, sweep: Mapping[str, Any], directory: Path, hyperband: Hyperband | None = None,
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
