"""Sweep files (W&B format) and `nasiam sweep` (Optuna)."""
import csv
import json
import os
from pathlib import Path

import pytest
import yaml

from nasiam.cli import main
from nasiam.config import ConfigError, SearchConfig, load_config
from nasiam.runner.sweep_file import read_sweep, suggest

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
    assert suggest(t, "widths", {"values": [[64, 128], [256]]}) == [256]  # lists travel as JSON
    assert suggest(t, "arch_lr", {"distribution": "log_uniform_values", "min": 1e-3, "max": 1e-1}) == (1e-3, 0.1,
                                                                                                       True, None)
    assert suggest(t, "lr", {"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.1}) == (0.0, 1.0, False, 0.1)
    assert suggest(t, "epochs", {"distribution": "int_uniform", "min": 2, "max": 9}) == (2, 9)
    assert suggest(t, "epochs", {"value": 3}) == 3


@pytest.mark.slow
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


RECIPES = Path(__file__).parent.parent / "recipes" / "sweeps"


def _fake_runs(monkeypatch, histories=()):
    """Trials without training: trial i reports histories[i] (knn_top1 per epoch; None: the
    run fails), or, past them, one epoch whose value is the trial's count; returns the
    configs the trials ran."""
    import nasiam.runner.search as search_module

    seen, scripted = [], iter(histories)

    class FakeRun:
        def __init__(self, cfg, verbose=False):
            seen.append(cfg)
            self.epoch_callbacks, self.values = [], next(scripted, [float(len(seen))])

        def execute(self):
            if self.values is None:
                raise ValueError("this run fails")
            for epoch, value in enumerate(self.values):
                for callback in self.epoch_callbacks:
                    callback(epoch, {"knn_top1": value})
            return {"knn_top1": self.values[-1], "genotypes": {}}

    monkeypatch.setattr(search_module, "SearchRun", FakeRun)
    return seen


def _sweep_file(tmp_path, base="cpu_smoke.yaml", **changes):
    sweep = yaml.safe_load((RECIPES / base).read_text())
    for key, value in changes.items():
        if value is None:
            sweep.pop(key, None)
        elif key in sweep.get("parameters", {}):
            sweep["parameters"][key] = value
        else:
            sweep[key] = value
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep))
    return path


HISTORIES = [[80.0, 85.0], [82.0, 88.0], [10.0, 12.0]]   # the third trial trails the others at epoch 2


def test_hyperband_early_terminate_prunes_a_trial_outside_the_top_1_over_eta(tmp_path, monkeypatch):
    pytest.importorskip("optuna")  # nasiam sweep runs on Optuna (nasiam[optuna])
    from nasiam.runner.sweep import run_sweep

    _fake_runs(monkeypatch, HISTORIES)
    path = _sweep_file(tmp_path, early_terminate={"type": "hyperband", "min_iter": 1, "eta": 2})
    result = run_sweep(path, 3, {}, out_dir=str(tmp_path), verbose=False)
    assert (result["finished"], result["pruned"]) == (2, 1)
    assert result["best"]["knn_top1"] == 88.0


def test_without_early_terminate_no_trial_is_pruned(tmp_path, monkeypatch):
    pytest.importorskip("optuna")
    from nasiam.runner.sweep import run_sweep

    _fake_runs(monkeypatch, HISTORIES)   # median pruning (what ran before) would stop the third
    result = run_sweep(RECIPES / "cpu_smoke.yaml", 3, {}, out_dir=str(tmp_path), verbose=False)
    assert (result["finished"], result["pruned"]) == (3, 0)


def test_hyperband_judges_a_trial_at_wandbs_band_not_one_epoch_later(tmp_path, monkeypatch):
    optuna = pytest.importorskip("optuna")
    from nasiam.runner.sweep import run_sweep

    # band 2 is the second value logged (epoch index 1): the third trial trails there, and leads at index 2
    _fake_runs(monkeypatch, [[50.0, 60.0, 70.0], [50.0, 65.0, 70.0], [50.0, 10.0, 80.0]])
    path = _sweep_file(tmp_path, early_terminate={"type": "hyperband", "min_iter": 2, "eta": 2},
                       epochs={"value": 3})
    assert run_sweep(path, 3, {}, out_dir=str(tmp_path), verbose=False)["pruned"] == 1
    study = optuna.load_study(study_name="sweep", storage=f"sqlite:///{tmp_path / 'sweep' / 'optuna.db'}")
    assert study.trials[2].state == optuna.trial.TrialState.PRUNED and study.trials[2].last_step == 1


def test_a_trial_that_ran_its_last_epoch_is_finished_not_pruned(tmp_path, monkeypatch):
    pytest.importorskip("optuna")
    from nasiam.runner.sweep import run_sweep

    # bands 1, 2, 4: the third trial trails at band 2, its last epoch (cpu_smoke runs 2)
    _fake_runs(monkeypatch, [[50.0, 60.0], [50.0, 65.0], [50.0, 10.0]])
    path = _sweep_file(tmp_path, early_terminate={"type": "hyperband", "min_iter": 1, "eta": 2})
    result = run_sweep(path, 3, {}, out_dir=str(tmp_path), verbose=False)
    assert (result["finished"], result["pruned"]) == (3, 0)


def test_hyperband_stops_what_wandbs_own_code_stops():
    from nasiam.runner.sweep_file import hyperband_stops, read_hyperband

    # the bands and the verdict of wandb/sweeps' tests/test_hyperband_stopping.py (loss, minimised)
    assert read_hyperband("s.yaml", {"type": "hyperband", "min_iter": 3, "eta": 3}).bands[:3] == (3, 9, 27)
    assert read_hyperband("s.yaml", {"type": "hyperband", "max_iter": 81, "s": 3, "eta": 3}).bands == (3, 9, 27)
    hyperband = read_hyperband("s.yaml", {"type": "hyperband", "min_iter": 3, "eta": 3})
    flat, falling = [10.0] * 4, [10.0 - i for i in range(10)]
    assert hyperband_stops(flat, [flat, falling], hyperband)
    assert not hyperband_stops(falling, [flat, falling], hyperband)
    assert not hyperband_stops(flat[:2], [flat[:2], falling], hyperband)   # before its first band
    # strict (W&B's default) judges the value at the band; strict: false the best value so far
    recovered, others = [1.0, 9.0], [[5.0, 5.0], [5.0, 5.0]]
    strict = read_hyperband("s.yaml", {"type": "hyperband", "min_iter": 2})
    lenient = read_hyperband("s.yaml", {"type": "hyperband", "min_iter": 2, "strict": False})
    assert hyperband_stops(recovered, [recovered, *others], strict)
    assert not hyperband_stops(recovered, [recovered, *others], lenient)


def test_hyperband_keys_map_to_wandbs_bands(tmp_path):
    from nasiam.runner.sweep_file import Hyperband, read_hyperband

    assert read_hyperband("s.yaml", None) is None
    assert read_hyperband("s.yaml", {"type": "hyperband", "min_iter": 2}).bands[:3] == (2, 6, 18)   # default eta 3
    assert read_hyperband("s.yaml", {"type": "hyperband", "max_iter": 27, "s": 2, "eta": 3}) == Hyperband((3, 9), 3.0)
    assert read_hyperband("s.yaml", {"type": "hyperband", "max_iter": 10, "s": 3, "eta": 3.0}).bands == (1, 3)
    assert read_hyperband("s.yaml", {"type": "hyperband", "min_iter": 2, "eta": 1.5}).bands[:4] == (2, 3, 4, 6)
    refused = {"median": {"type": "median"}, "unknown key": {"type": "hyperband", "min_iters": 2},
               "eta must be a number above 1": {"type": "hyperband", "min_iter": 2, "eta": 1},
               "strict must be true or false": {"type": "hyperband", "min_iter": 2, "strict": "yes"},
               "max_iter / eta is below 1": {"type": "hyperband", "max_iter": 2, "s": 1},
               "needs min_iter": {"type": "hyperband", "eta": 3}}
    for message, spec in refused.items():
        with pytest.raises(ConfigError, match=message):
            read_hyperband("s.yaml", spec)


def test_a_trial_a_killed_sweep_left_running_is_retried_resuming_its_run(tmp_path, monkeypatch, capsys):
    optuna = pytest.importorskip("optuna")
    from nasiam.runner.sweep import run_sweep

    # what a SIGKILLed `nasiam sweep` leaves: trial 0 running, one epoch reported
    (tmp_path / "sweep").mkdir()
    storage = f"sqlite:///{tmp_path / 'sweep' / 'optuna.db'}"
    killed = optuna.create_study(study_name="sweep", storage=storage, direction="maximize").ask(
        {"arch_lr": optuna.distributions.FloatDistribution(0.01, 0.1, log=True),
         "beta_weight": optuna.distributions.CategoricalDistribution([0.0, 0.5])})
    killed.report(70.0, 0)
    half_written = tmp_path / "sweep" / ".results.csv.0123abcd.nasiam.tmp"   # killed while writing its tables
    half_written.write_text("trial,")
    seen = _fake_runs(monkeypatch)
    path = _sweep_file(tmp_path)
    result = run_sweep(path, 1, {}, out_dir=str(tmp_path), verbose=True)
    assert "trial 0 was left running by a killed sweep: retrying it, resuming trials/trial-0" in capsys.readouterr().out
    assert result["finished"] == 1 and len(seen) == 1
    assert (seen[0].run_name, seen[0].resume, seen[0].arch_lr) == ("trial-0", "auto", killed.params["arch_lr"])
    study = optuna.load_study(study_name="sweep", storage=storage)
    assert [t.state.name for t in study.trials] == ["FAIL", "COMPLETE"]
    assert study.trials[1].intermediate_values[0] == 70.0   # the killed attempt's epoch, for hyperband
    # the tables say the retry's files are in the killed trial's folder (trial 1 has no trials/trial-1)
    # and that trial 0 was killed and retried, not a failure of its parameters (it read "fail")
    rows = list(csv.DictReader((tmp_path / "sweep" / "results.csv").open()))
    assert [(r["state"], r["run"]) for r in rows] == [("killed, retried", "trials/trial-0"),
                                                      ("complete", "trials/trial-0")]
    assert "| 0 | killed, retried |" in (tmp_path / "sweep" / "results.md").read_text()
    assert not half_written.exists()   # was left forever


def test_sigterm_stops_the_sweep_and_its_trial_is_retried_from_the_checkpoint(tmp_path, monkeypatch, capsys):
    """The fifth probe of #33: SIGTERM (or Ctrl-C) stopped the trial's run at a step, with a
    checkpoint, and the sweep took that for a failure of the trial's parameters ("trial 0
    failed", state fail, never retried) and went on to the next trial, advising `--resume
    --run_name trial-0`. Now the sweep stops (143) and running it again resumes trial 0."""
    optuna = pytest.importorskip("optuna")
    import signal

    import nasiam.runner.search as search_module
    from nasiam.errors import RunInterrupted

    seen = []

    class StoppedOnce:
        def __init__(self, cfg, verbose=False):
            seen.append(cfg)
            self.epoch_callbacks = []

        def execute(self):
            if len(seen) == 1:
                for callback in self.epoch_callbacks:
                    callback(0, {"knn_top1": 40.0})
                raise RunInterrupted("stopped by SIGTERM after step 2 of epoch 2; continue with --resume", signal.SIGTERM)
            return {"knn_top1": 50.0, "genotypes": {}}

    monkeypatch.setattr(search_module, "SearchRun", StoppedOnce)
    path = _sweep_file(tmp_path)
    assert main(["sweep", "--config", str(path), "--trials", "2", "--sweep_dir", str(tmp_path)]) == 143
    err = capsys.readouterr().err
    assert "stopped by SIGTERM during trial 0" in err and "run the same `nasiam sweep` command again" in err, err
    assert len(seen) == 1   # no next trial started
    assert main(["sweep", "--config", str(path), "--trials", "2", "--sweep_dir", str(tmp_path)]) == 0
    assert [(c.run_name, c.resume) for c in seen[1:]] == [("trial-0", "auto"), ("trial-2", None)]
    assert seen[1].arch_lr == seen[0].arch_lr
    study = optuna.load_study(study_name="sweep", storage=f"sqlite:///{tmp_path / 'sweep' / 'optuna.db'}")
    assert [t.state.name for t in study.trials] == ["FAIL", "COMPLETE", "COMPLETE"]
    assert study.trials[1].intermediate_values[0] == 40.0
    rows = list(csv.DictReader((tmp_path / "sweep" / "results.csv").open()))
    assert [(r["state"], r["run"]) for r in rows] == [("stopped, retried", "trials/trial-0"),
                                                      ("complete", "trials/trial-0"), ("complete", "trials/trial-2")]


def test_a_second_sweep_on_a_running_study_exits_2(tmp_path, monkeypatch, capsys):
    from nasiam.runner.lock import RunDirLock

    seen = _fake_runs(monkeypatch)
    with RunDirLock(tmp_path / "cpu_smoke", "sweep"):
        code = main(["sweep", "--config", str(RECIPES / "cpu_smoke.yaml"), "--sweep_dir", str(tmp_path)])
    assert code == 2 and not seen
    assert "one `nasiam sweep` drives a study at a time" in capsys.readouterr().err


def test_a_sweep_dir_that_is_a_file_exits_2_naming_the_option(tmp_path, monkeypatch, capsys):
    """#33 probe 12, I9: exit 5 "Not a directory on f/cpu_smoke", naming no option, where a file
    as --out_dir is exit 2 naming it."""
    seen = _fake_runs(monkeypatch)
    (tmp_path / "f").write_text("mine\n")
    code = main(["sweep", "--config", str(RECIPES / "cpu_smoke.yaml"), "--sweep_dir", str(tmp_path / "f" / "sub")])
    assert code == 2 and not seen
    assert f"--sweep_dir: {tmp_path / 'f'} is a file, not a folder; choose another --sweep_dir" in capsys.readouterr().err
    assert (tmp_path / "f").read_text() == "mine\n"


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
def test_a_sweep_dir_where_no_folder_can_be_made_exits_2_naming_the_option(monkeypatch, capsys):
    """#33 probe 13, J3: `--sweep_dir /proc/self/x` exited 2 with a bare "[Errno 2] No such file
    or directory", naming no option and no fix."""
    seen = _fake_runs(monkeypatch)
    code = main(["sweep", "--config", str(RECIPES / "cpu_smoke.yaml"), "--sweep_dir", "/proc/self/nasiam-x"])
    assert code == 2 and not seen
    err = capsys.readouterr().err
    assert "--sweep_dir: no folder can be made at /proc/self/nasiam-x: nothing can be created in /proc/self" in err
    assert "choose another --sweep_dir" in err and "Errno" not in err


def test_an_unsupported_early_terminate_exits_2_naming_hyperband(tmp_path, monkeypatch, capsys):
    _fake_runs(monkeypatch)   # no training, were the check to let the sweep run
    path = _sweep_file(tmp_path, early_terminate={"type": "envelope"})
    assert main(["sweep", "--config", str(path), "--sweep_dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "only `type: hyperband` is supported" in err and "'envelope'" in err


@pytest.mark.slow
def test_a_grid_sweep_visits_every_point_once_and_says_what_a_short_run_leaves(tmp_path, monkeypatch, capsys):
    pytest.importorskip("optuna")
    seen = _fake_runs(monkeypatch)
    args = ["sweep", "--config", str(RECIPES / "space_variants.yaml"), "--sweep_dir", str(tmp_path)]
    assert main([*args, "--trials", "12"]) == 0
    out = capsys.readouterr().out
    assert "12 trials finished" in out and "20 of the grid's 32 points left unvisited" in out
    assert main(args) == 0   # no --trials: the rest of the grid, continuing the study
    out = capsys.readouterr().out
    assert "32 trials finished" in out and "unvisited" not in out
    points = {(c.space, c.allow_skip, c.strategy, tuple(c.widths)) for c in seen}
    assert len(seen) == len(points) == 32


def test_a_grid_caps_trials_at_its_size(tmp_path, monkeypatch, capsys):
    pytest.importorskip("optuna")
    seen = _fake_runs(monkeypatch)
    path = _sweep_file(tmp_path, method="grid", arch_lr={"values": [0.01, 0.1]})   # 2 x 2 points
    assert main(["sweep", "--config", str(path), "--sweep_dir", str(tmp_path), "--trials", "40"]) == 0
    out = capsys.readouterr().out
    assert "--trials 40 is more than the grid's 4 points: running 4" in out and "4 trials finished" in out
    assert len({(c.arch_lr, c.beta_weight) for c in seen}) == len(seen) == 4


def test_a_failed_grid_point_is_visited_and_no_point_runs_twice(tmp_path, monkeypatch, capsys):
    pytest.importorskip("optuna")
    seen = _fake_runs(monkeypatch, [None])   # the first trial fails
    path = _sweep_file(tmp_path, method="grid", arch_lr={"values": [0.01, 0.1]})
    args = ["sweep", "--config", str(path), "--sweep_dir", str(tmp_path)]
    assert main(args) == 0 and "3 trials finished" in capsys.readouterr().out
    assert main(args) == 0   # continued: every point was run (one failed, as on W&B), so none runs again
    assert "3 trials finished" in capsys.readouterr().out and len(seen) == 4


def test_a_grid_with_a_continuous_parameter_exits_2_with_the_fix(tmp_path, monkeypatch, capsys):
    _fake_runs(monkeypatch)   # no training, were the check to let the sweep run
    path = _sweep_file(tmp_path, method="grid")   # cpu_smoke's arch_lr is log_uniform_values
    assert main(["sweep", "--config", str(path), "--sweep_dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "'arch_lr'" in err and "`values: [...]`" in err and "method: random" in err


@pytest.mark.parametrize("method", ["bayesian", None])
def test_an_unknown_or_missing_method_exits_2_naming_the_allowed_ones(tmp_path, monkeypatch, capsys, method):
    _fake_runs(monkeypatch)   # no training, were the check to let the sweep run
    path = _sweep_file(tmp_path, method=method)
    assert main(["sweep", "--config", str(path), "--sweep_dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "'method' must be one of grid, random, bayes" in err


def test_each_method_gets_its_optuna_sampler():
    optuna = pytest.importorskip("optuna")
    from nasiam.runner.sweep import _sampler

    assert type(_sampler("random", None, 0, 0)) is optuna.samplers.RandomSampler
    assert type(_sampler("bayes", None, 0, 0)) is optuna.samplers.TPESampler
    assert type(_sampler("grid", {"epochs": [1, 2]}, 0, 0)) is optuna.samplers.GridSampler


def test_a_random_sweep_is_seeded_and_a_continued_one_draws_new_points(tmp_path, monkeypatch):
    pytest.importorskip("optuna")
    from nasiam.runner.sweep import run_sweep

    seen = _fake_runs(monkeypatch)
    run_sweep(RECIPES / "cpu_smoke.yaml", 2, {}, out_dir=str(tmp_path / "a"), verbose=False)
    run_sweep(RECIPES / "cpu_smoke.yaml", 4, {}, out_dir=str(tmp_path / "a"), verbose=False)   # continued
    run_sweep(RECIPES / "cpu_smoke.yaml", 2, {}, out_dir=str(tmp_path / "b"), verbose=False)   # same seed
    drawn = [c.arch_lr for c in seen]
    assert len(set(drawn[:4])) == 4 and drawn[4:] == drawn[:2]


def test_printed_parameters_are_rounded_and_the_files_keep_them_exact(tmp_path, monkeypatch, capsys):
    pytest.importorskip("optuna")
    _fake_runs(monkeypatch)
    assert main(["sweep", "--config", str(RECIPES / "cpu_smoke.yaml"), "--sweep_dir", str(tmp_path),
                 "--trials", "2"]) == 0
    out = capsys.readouterr().out
    rows = list(csv.DictReader((tmp_path / "cpu_smoke" / "results.csv").open()))
    exact = [float(r["arch_lr"]) for r in rows]
    for value in exact:
        assert f"arch_lr={value:.4g} " in out or out.rstrip().endswith(f"arch_lr={value:.4g}")
        assert repr(value) not in out and len(repr(value)) > 8   # the draws have more digits than printed
        assert repr(value) in (tmp_path / "cpu_smoke" / "results.md").read_text()
    best = next(line for line in out.splitlines() if line.startswith("best: "))
    assert f"arch_lr={exact[1]:.4g}," in best   # the second trial's value (2.0) is the higher


def test_a_sweep_that_finishes_no_trial_exits_non_zero(tmp_path, capsys):
    pytest.importorskip("optuna")
    sweep = yaml.safe_load((Path(__file__).parent.parent / "recipes" / "sweeps" / "cpu_smoke.yaml").read_text())
    sweep["parameters"]["warmup_epochs"] = {"value": 5}   # >= epochs: every trial's options are refused
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(sweep))
    code = main(["sweep", "--config", str(path), "--sweep_dir", str(tmp_path), "--trials", "2"])
    captured = capsys.readouterr()
    assert code != 0 and ("no trial finished" in captured.err or "warmup_epochs" in captured.err), captured


@pytest.mark.parametrize("name", ["\x1b[2Jx", "a\u202eb", " ", " x"])
def test_a_sweep_name_a_terminal_would_act_on_is_refused(tmp_path, monkeypatch, capsys, name):
    """`--name $'\\x1b[2Jx'` made a folder with an escape sequence in its name, printed raw in
    every line naming the sweep's directory (the fifth probe of #33); --run_name refused it."""
    seen = _fake_runs(monkeypatch)
    path = _sweep_file(tmp_path)
    assert main(["sweep", "--config", str(path), "--name", name, "--sweep_dir", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "--name" in err and "printable characters only" in err and "\x1b" not in err and not seen
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("kind, words", [("text", "is not a SQLite database"), ("zeros", "is not a SQLite database"),
                                         ("fifo", "is a FIFO, socket or device"), ("folder", "is a folder"),
                                         ("truncated", "could not be opened as the study's database")])
def test_a_damaged_study_database_is_named_before_any_trial(tmp_path, monkeypatch, capsys, kind, words):
    """A sweep's optuna.db holding text or another program's bytes ended in sqlalchemy's
    traceback, exit 1; a FIFO there in "disk I/O error" (the sixth probe of #33). Now exit 2
    naming the file, no trial run, the file left as it is."""
    seen = _fake_runs(monkeypatch)
    path = _sweep_file(tmp_path)
    database = tmp_path / "s" / "sweep" / "optuna.db"
    database.parent.mkdir(parents=True)
    if kind == "fifo":
        os.mkfifo(database)
    elif kind == "folder":
        database.mkdir()
    else:   # (a header then zeros: SQLite reads past it and finds no valid page)
        database.write_bytes({"text": b"not a database at all", "zeros": bytes(4096),
                              "truncated": b"SQLite format 3\x00" + bytes(100)}[kind])
    assert main(["sweep", "--config", str(path), "--sweep_dir", str(tmp_path / "s"), "--trials", "1"]) == 2
    err = capsys.readouterr().err
    assert f"{database} (read) {words}" in err and "Traceback" not in err and not seen, err
    assert os.path.lexists(database)


@pytest.mark.parametrize("name", ["knn_top_1", "knn_top", "genotypes", "linear_top1"])
def test_a_metric_no_trial_reports_exits_2_before_the_first_trial(tmp_path, monkeypatch, capsys, name):
    """A misspelt sweep metric was found only after the first trial had trained (the sixth
    probe of #33, W1): now exit 2 before any trial, naming the file's metric, the name it
    holds and the names a search reports. (A search evaluates no linear probe, and its
    genotypes are not a number.)"""
    seen = _fake_runs(monkeypatch)
    path = _sweep_file(tmp_path, metric={"name": name, "goal": "maximize"})
    assert main(["sweep", "--config", str(path), "--sweep_dir", str(tmp_path / "s"), "--trials", "1"]) == 2
    err = capsys.readouterr().err
    assert f"metric: name {name!r} is not a number" in err and "valid names: " in err, err
    assert "knn_top1" in err.split("valid names: ")[1] and not seen
    assert not (tmp_path / "s").exists()   # nothing created: refused before the study's folder



@pytest.mark.parametrize("changes, words", [
    ({"epochs": {"value": 3}}, "parameter 'epochs' {'value': 2} -> {'value': 3}"),
    ({"arch_lr": {"distribution": "log_uniform_values", "min": 0.5, "max": 0.9}}, "parameter 'arch_lr' "),
    ({"metric": {"name": "knn_top1", "goal": "minimize"}}, "goal 'maximize' -> 'minimize'"),
    ({"metric": {"name": "loss", "goal": "maximize"}}, "metric 'knn_top1' -> 'loss'"),
    ({"method": "grid", "arch_lr": {"values": [0.01, 0.1]}}, "method 'random' -> 'grid'"),
    ({"knn_k": None}, "parameter 'knn_k' removed"),
])
def test_a_study_is_not_continued_from_an_edited_sweep_file(tmp_path, monkeypatch, capsys, changes, words):
    """`nasiam sweep` continued a study under any file: trials of other epochs and ranges ranked
    together, a flipped goal ignored, knn_top1 values tabled as `loss`, a grid that never ran (the
    fourteenth probe of #33, K2). The study records its file; another one exits 2 naming what
    changed and the fixes, before any trial runs."""
    pytest.importorskip("optuna")
    seen = _fake_runs(monkeypatch)
    args = ["--sweep_dir", str(tmp_path / "sw"), "--name", "s", "--trials"]
    assert main(["sweep", "--config", str(_sweep_file(tmp_path)), *args, "1"]) == 0
    edited = yaml.safe_load((RECIPES / "cpu_smoke.yaml").read_text())
    for key, value in changes.items():
        where = edited["parameters"] if key in edited["parameters"] else edited
        where.pop(key) if value is None else where.__setitem__(key, value)
    (tmp_path / "edited.yaml").write_text(yaml.safe_dump(edited))
    capsys.readouterr()
    assert main(["sweep", "--config", str(tmp_path / "edited.yaml"), *args, "2"]) == 2
    err = capsys.readouterr().err
    assert "was started with another sweep file" in err and words in err, err
    assert "--name NEW" in err and "--sweep_dir" in err and len(seen) == 1
    assert main(["sweep", "--config", str(_sweep_file(tmp_path)), *args, "2"]) == 0 and len(seen) == 2   # unedited


def test_a_study_is_not_continued_under_other_options_for_its_trials(tmp_path, monkeypatch, capsys):
    """The options passed to every trial were not part of the record: a study begun with 1-epoch,
    64-image trials continued with 3-epoch, 32-image ones and ranked them in one table (the
    fifteenth probe of #33, L1). Options that change results are recorded as the trial reads them;
    where and how it ran (--num_workers, --data_root), an option at its default, another spelling
    of the same value and an option the file's parameters set anyway all continue."""
    pytest.importorskip("optuna")
    seen = _fake_runs(monkeypatch)
    args = ["sweep", "--config", str(_sweep_file(tmp_path)), "--sweep_dir", str(tmp_path / "sw"), "--name", "s"]
    assert main([*args, "--trials", "1", "--lr", "0.1", "--arch_every", "2"]) == 0 and len(seen) == 1
    capsys.readouterr()
    assert main([*args, "--trials", "2", "--lr", "0.2"]) == 2
    err = capsys.readouterr().err
    assert "was started with other options for its trials (--arch_every 2 -> 1; --lr 0.1 -> 0.2)" in err, err
    assert "give the options it was started with (--arch_every 2 --lr 0.1)" in err and "--name NEW" in err
    assert len(seen) == 1   # refused before any trial
    assert main([*args, "--trials", "2", "--lr=1e-1", "--arch-every", "2", "--logger", "tensorboard", "--data_root",
                 str(tmp_path / "elsewhere"), "--weight_decay", "5e-4", "--epochs", "9"]) == 0 and len(seen) == 2
    assert main([*args, "--trials", "3", "--lr", "0.1", "--arch_every", "2"]) == 0 and len(seen) == 3


def test_options_are_compared_at_the_values_a_trial_runs_with():
    """An option left out is its default, and off the demo datasets the demo-scale options'
    default is the method's (none), as `load_config` sets it."""
    from nasiam.runner.sweep_record import _option_changes, _trial_options

    assert _option_changes({"dataset": "cifar10", "subset": None}, {"dataset": "cifar10"}) == []
    assert _option_changes({"subset": None}, {}) == ["--subset none -> 10000"]
    assert _option_changes({"lr": 0.05}, {}) == []
    # the loader's workers draw the augmentations, one stream each: other workers, other views (#33
    # probe 16, M7); where the data is and where the trial logs are not part of the record
    assert _trial_options({"num_workers": "3", "data_root": "/data", "logger": "csv"}, {}) == {"num_workers": 3}
    assert _trial_options({"num_workers": "3"}, {"num_workers": {"value": 0}}) == {}   # the file sets it
    # aliases are one value (#33 probe 16, M1)
    assert _trial_options({"precision": "bf16", "lr": "1e-1", "framework": "moco", "accelerator": "cuda"}, {}) == \
        _trial_options({"precision": "bf16-mixed", "lr": "0.10", "framework": "mocov2", "accelerator": "gpu"}, {})
    # an option recorded by another version of nasiam is a change, named (M8: a StopIteration traceback)
    assert _option_changes({"gone_option": 3}, {}) == ["--gone_option 3 -> (not an option of this nasiam)"]


def test_a_study_is_not_continued_under_another_hyperband(tmp_path, monkeypatch):
    """`early_terminate` was not recorded: adding hyperband mid-study judged the later trials
    against earlier ones that had run to the end (the fifteenth probe of #33, L2)."""
    pytest.importorskip("optuna")
    from nasiam.runner.sweep import run_sweep

    seen = _fake_runs(monkeypatch)
    for folder in ("plain", "hyperband", "defaults"):
        (tmp_path / folder).mkdir()
    plain = _sweep_file(tmp_path / "plain")
    hyperband = _sweep_file(tmp_path / "hyperband", early_terminate={"type": "hyperband", "min_iter": 1})
    same = _sweep_file(tmp_path / "defaults", early_terminate={"type": "hyperband", "min_iter": 1, "eta": 3,
                                                                "strict": True})
    run_sweep(plain, 1, {}, out_dir=str(tmp_path), name="s", verbose=False)
    with pytest.raises(ConfigError, match="another sweep file .early_terminate None -> .'bands'"):
        run_sweep(hyperband, 2, {}, out_dir=str(tmp_path), name="s", verbose=False)
    assert len(seen) == 1
    # a study begun with hyperband continues under the same one with its defaults written out
    run_sweep(hyperband, 1, {}, out_dir=str(tmp_path), name="hb", verbose=False)
    run_sweep(same, 2, {}, out_dir=str(tmp_path), name="hb", verbose=False)
    # and names the field that changed, not 200 characters of bands (M9)
    (tmp_path / "defaults" / "sweep.yaml").write_text((tmp_path / "defaults" / "sweep.yaml").read_text()
                                                        .replace("strict: true", "strict: false"))
    with pytest.raises(ConfigError, match=r"\(early_terminate strict True -> False\)"):
        run_sweep(same, 3, {}, out_dir=str(tmp_path), name="hb", verbose=False)
    assert len(seen) == 3


@pytest.mark.parametrize("given, recorded_options", [
    ({"num_workers": "0"}, {}),                                   # N1: --num_workers was not recorded then
    ({"framework": "moco", "accelerator": "cuda"}, {"framework": "moco", "accelerator": "cuda"}),   # N2: aliases as given
])
def test_a_study_recorded_by_the_previous_record_continues_under_its_own_command(tmp_path, monkeypatch,
                                                                                 given, recorded_options):
    """#33 probe 17, N1, N2: a study recorded before --num_workers counted and aliases were
    resolved was refused under the very command that started it (`--num_workers 2 -> 0`,
    `--framework moco -> mocov2`), and the message's own options were refused again."""
    optuna = pytest.importorskip("optuna")
    from nasiam.runner.sweep import run_sweep
    from nasiam.runner.sweep_record import RECORD_VERSION, SWEEP_ATTRIBUTE, _sweep_form

    seen = _fake_runs(monkeypatch)
    path = _sweep_file(tmp_path)
    sweep = yaml.safe_load(path.read_text())
    del sweep["parameters"]["num_workers"]   # the command line's --num_workers reaches the trials
    path.write_text(yaml.safe_dump(sweep))
    (tmp_path / "sweep").mkdir()
    storage = f"sqlite:///{tmp_path / 'sweep' / 'optuna.db'}"
    study = optuna.create_study(study_name="sweep", storage=storage, direction="maximize")
    old = {k: v for k, v in _sweep_form(read_sweep(path)).items() if k not in ("version", "early_terminate")}
    study.set_user_attr(SWEEP_ATTRIBUTE, {**old, "options": recorded_options})
    assert run_sweep(path, 1, given, out_dir=str(tmp_path), verbose=False)["finished"] == 1 and len(seen) == 1
    record = optuna.load_study(study_name="sweep", storage=storage).user_attrs[SWEEP_ATTRIBUTE]
    assert record["version"] == RECORD_VERSION   # recorded anew: from now on --num_workers counts
    if "num_workers" in given:
        with pytest.raises(ConfigError, match=r"--num_workers 0 -> 2"):
            run_sweep(path, 2, {}, out_dir=str(tmp_path), verbose=False)
        # P4 (#33 probe 18): a record without a version that holds --num_workers keeps it
        study = optuna.load_study(study_name="sweep", storage=storage)
        study.set_user_attr(SWEEP_ATTRIBUTE, {**record, "version": None})
        with pytest.raises(ConfigError, match=r"--num_workers 0 -> 4"):
            run_sweep(path, 2, {"num_workers": "4"}, out_dir=str(tmp_path), verbose=False)


@pytest.mark.parametrize("damaged", ["a text", {"parameters": "x"}, {"options": [1, 2]}])
def test_a_study_record_nasiam_did_not_write_is_recorded_anew(tmp_path, monkeypatch, damaged):
    """#33 probe 17, N6: a record whose parameters were a string gave an AttributeError traceback."""
    optuna = pytest.importorskip("optuna")
    from nasiam.runner.sweep import run_sweep
    from nasiam.runner.sweep_record import SWEEP_ATTRIBUTE

    seen = _fake_runs(monkeypatch)
    (tmp_path / "sweep").mkdir()
    storage = f"sqlite:///{tmp_path / 'sweep' / 'optuna.db'}"
    optuna.create_study(study_name="sweep", storage=storage, direction="maximize").set_user_attr(SWEEP_ATTRIBUTE,
                                                                                                 damaged)
    assert run_sweep(_sweep_file(tmp_path), 1, {}, out_dir=str(tmp_path), verbose=False)["finished"] == 1
    assert len(seen) == 1


def test_a_study_started_before_the_file_was_recorded_continues_and_records_it(tmp_path, monkeypatch):
    optuna = pytest.importorskip("optuna")
    from nasiam.runner.sweep import run_sweep
    from nasiam.runner.sweep_record import SWEEP_ATTRIBUTE, _sweep_form

    (tmp_path / "sweep").mkdir()
    storage = f"sqlite:///{tmp_path / 'sweep' / 'optuna.db'}"
    optuna.create_study(study_name="sweep", storage=storage, direction="maximize")   # no attribute: an older nasiam
    seen = _fake_runs(monkeypatch)
    path = _sweep_file(tmp_path)
    assert run_sweep(path, 1, {}, out_dir=str(tmp_path), verbose=False)["finished"] == 1 and len(seen) == 1
    recorded = optuna.load_study(study_name="sweep", storage=storage).user_attrs[SWEEP_ATTRIBUTE]
    assert recorded == _sweep_form(read_sweep(path))
    with pytest.raises(ConfigError, match="parameter 'epochs'"):
        run_sweep(_sweep_file(tmp_path, epochs={"value": 5}), 2, {}, out_dir=str(tmp_path), verbose=False)
