"""Sweep files (W&B format) and `nasiam sweep` (Optuna)."""
import json
from pathlib import Path

import pytest
import yaml

from nasiam.cli import main
from nasiam.config import ConfigError, SearchConfig, load_config
from nasiam.runner.sweep import _suggest, read_sweep

SWEEPS = sorted((Path(__file__).parent.parent / "recipes" / "sweeps").glob("*.yaml"))


WANDB_SWEEP_SCHEMA = Path(__file__).parent / "data" / "wandb_sweep_config.schema.json"


def wandb_sweep_validator():
    """W&B's own sweep-config JSON schema, vendored from its `sweeps` package (source, version
    and license: tests/data/README.md)."""
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(WANDB_SWEEP_SCHEMA.read_text())
    checker = jsonschema.FormatChecker()
    checker.checks("float")(lambda v: isinstance(v, float))
    checker.checks("integer")(lambda v: isinstance(v, int))
    return jsonschema.Draft7Validator(schema, format_checker=checker)


@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.stem)
def test_sweep_files_validate_against_wandbs_schema(path):
    validator = wandb_sweep_validator()
    config = yaml.safe_load(path.read_text())
    errors = [e.message for e in validator.iter_errors(config)]
    assert not errors, errors
    assert "${args}" in config["command"]  # the agent passes --key=value to `nasiam search`


def test_the_schema_check_catches_a_broken_sweep():
    validator = wandb_sweep_validator()
    broken = {"method": "bayesian", "metric": {"name": "knn_top1", "goal": "up"}, "parameters": {"arch_lr": {}}}
    assert len(list(validator.iter_errors(broken))) >= 2


@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.stem)
def test_sweep_parameters_are_search_options_of_the_right_type(path):
    sweep = read_sweep(path)
    if {"tpe", "random"} & set(sweep["parameters"].get("strategy", {}).get("values", [])):
        pytest.importorskip("optuna")  # those strategies' optional extra, nasiam[optuna]
    for name, spec in sweep["parameters"].items():
        values = spec.get("values", [spec.get("value", spec.get("min"))])
        for value in values:
            load_config(SearchConfig, None, {name: value if not isinstance(value, list) else json.dumps(value)})


def test_read_sweep_names_the_bad_parameter(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("metric: {name: knn_top1, goal: maximize}\nparameters:\n  arch_lrr: {values: [0.1]}\n")
    with pytest.raises(ConfigError, match="'arch_lrr' is not a `nasiam search` option"):
        read_sweep(path)
    path.write_text("metric: {name: knn_top1, goal: maximize}\nparameters:\n  epochs: {values: [many]}\n")
    with pytest.raises(ConfigError, match="--epochs: cannot read 'many'"):
        read_sweep(path)


class _Trial:
    def suggest_categorical(self, name, choices):
        return choices[-1]

    def suggest_float(self, name, low, high, log=False, step=None):
        return (low, high, log, step)

    def suggest_int(self, name, low, high):
        return (low, high)


def test_sweep_distributions_map_to_optuna():
    t = _Trial()
    assert _suggest(t, "widths", {"values": [[64, 128], [256]]}) == [256]  # lists travel as JSON
    assert _suggest(t, "arch_lr", {"distribution": "log_uniform_values", "min": 1e-3, "max": 1e-1}) == (1e-3, 0.1,
                                                                                                       True, None)
    assert _suggest(t, "lr", {"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.1}) == (0.0, 1.0, False, 0.1)
    assert _suggest(t, "epochs", {"distribution": "int_uniform", "min": 2, "max": 9}) == (2, 9)
    assert _suggest(t, "epochs", {"value": 3}) == 3


def test_nasiam_sweep_runs_trials_and_resumes_from_its_sqlite_file(tmp_path, capsys):
    pytest.importorskip("optuna")  # nasiam sweep runs on Optuna (nasiam[optuna])
    smoke = Path(__file__).parent.parent / "recipes" / "sweeps" / "cpu_smoke.yaml"
    args = ["sweep", "--config", str(smoke), "--sweep_dir", str(tmp_path)]
    assert main([*args, "--trials", "2"]) == 0
    assert "2 trials finished" in capsys.readouterr().out
    assert main([*args, "--trials", "3"]) == 0  # continues the same study: one more trial
    out = capsys.readouterr().out
    assert "3 trials finished" in out and out.count("trial 2: knn_top1") == 1 and "trial 0: " not in out
    directory = tmp_path / "cpu_smoke"
    for name in ("optuna.db", "results.csv", "results.md", "history.png"):
        assert (directory / name).is_file(), name
    rows = (directory / "results.csv").read_text().splitlines()
    assert rows[0].startswith("trial,state,knn_top1,arch_lr,beta_weight") and len(rows) == 4
    assert len(list((directory / "trials").iterdir())) == 3


def test_sweep_prunes_a_trial_whose_epoch_metric_trails_the_median(tmp_path, monkeypatch):
    pytest.importorskip("optuna")  # nasiam sweep runs on Optuna (nasiam[optuna])
    import nasiam.runner.search as search_module
    from nasiam.runner.sweep import run_sweep

    scripted = iter([[80.0, 85.0], [82.0, 88.0], [10.0, 12.0]])  # per trial: knn_top1 of each epoch

    class ScriptedRun:
        def __init__(self, cfg, verbose=False):
            self.epoch_callbacks, self.values = [], next(scripted)

        def execute(self):
            for epoch, value in enumerate(self.values):
                for callback in self.epoch_callbacks:
                    callback(epoch, {"knn_top1": value})
            return {"knn_top1": self.values[-1], "genotypes": {}}

    monkeypatch.setattr(search_module, "SearchRun", ScriptedRun)
    smoke = Path(__file__).parent.parent / "recipes" / "sweeps" / "cpu_smoke.yaml"
    result = run_sweep(smoke, 3, {}, out_dir=str(tmp_path), verbose=False)
    assert (result["finished"], result["pruned"]) == (2, 1)
    assert result["best"]["knn_top1"] == 88.0


def test_a_sweep_that_finishes_no_trial_exits_non_zero(tmp_path, capsys):
    pytest.importorskip("optuna")
    sweep = yaml.safe_load((Path(__file__).parent.parent / "recipes" / "sweeps" / "cpu_smoke.yaml").read_text())
    sweep["parameters"]["warmup_epochs"] = {"value": 5}   # >= epochs: every trial's options are refused
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(sweep))
    code = main(["sweep", "--config", str(path), "--sweep_dir", str(tmp_path), "--trials", "2"])
    captured = capsys.readouterr()
    assert code != 0 and ("no trial finished" in captured.err or "warmup_epochs" in captured.err), captured
