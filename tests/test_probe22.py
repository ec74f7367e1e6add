"""The twenty-second probe of #33 (benchmarks/results/probe-2026-12-07/findings-twenty-second.md):
the holes it found in the twenty-first session's fixes."""
from __future__ import annotations

import pytest

from nasiam.config import ConfigError, PretrainConfig, load_config


def _pretrain_options(**overrides):
    return load_config(PretrainConfig, None, {"dataset": "synthetic", **overrides})


def test_an_empty_wandb_mode_is_refused_like_any_other_bad_mode(monkeypatch):
    """T1: WANDB_MODE='' passed nasiam's check; wandb.init refused it with a traceback, exit 1,
    after the data were loaded."""
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "")
    monkeypatch.delenv("WANDB_RUN_ID", raising=False)
    with pytest.raises(ConfigError, match="WANDB_MODE='' is not a W&B mode"):
        _pretrain_options(wandb=True)


def _sweep(tmp_path, parameters, method="random"):
    import yaml

    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({"method": method, "metric": {"name": "knn_top1", "goal": "maximize"},
                                    "parameters": parameters}))
    return path


@pytest.mark.parametrize("name, spec, named", [
    ("batch_size", {"distribution": "uniform", "min": 16, "max": 20}, "--batch_size takes whole numbers, and uniform"),
    ("batch_size", {"distribution": "log_uniform_values", "min": 16, "max": 256}, "use `distribution: int_uniform`"),
    ("lr", {"distribution": "int_uniform", "min": 0.0001, "max": 0.01}, "int_uniform draws whole numbers"),
])
def test_a_distribution_whose_draws_the_option_cannot_take_is_refused_when_read(tmp_path, name, spec, named):
    """T2: a uniform batch_size failed every trial ("cannot read 18.19"); int_uniform on lr between
    0.0001 and 0.01 trained every trial with lr 0 and called one the best."""
    from nasiam.runner.sweep_file import read_sweep

    path = _sweep(tmp_path, {name: spec})
    with pytest.raises(ConfigError, match=named) as refused:
        read_sweep(path)
    assert str(path) in str(refused.value) and repr(name) in str(refused.value)


@pytest.mark.parametrize("spec, named", [
    ({"distribution": "q_uniform", "min": 0.0, "max": 1.0, "q": 1e-300}, r"q 1e-300 makes 1e\+300 steps"),
    ({"distribution": "q_uniform", "min": 0.0, "max": 1.0, "q": 5.0}, "less than one"),
    ({"distribution": "q_log_uniform_values", "min": 0.001, "max": 0.1, "q": 0.01}, "supported are value, values"),
    ({"distribution": "categorical", "min": 0.001, "max": 0.1}, "categorical takes values"),
    ({"distribution": "log_uniform_values", "min": -2, "max": -1}, "both above 0"),
])
def test_a_step_or_distribution_the_sweep_cannot_draw_as_written_is_refused_when_read(tmp_path, spec, named):
    """T3: a q of 1e-300 crashed the sweep with Optuna's decimal.InvalidOperation, exit 1; T4: a q
    above the range always gave min, q_log_uniform_values' q and categorical's min/max were
    dropped without a word, a log scale from -2 advised min -0.01."""
    from nasiam.runner.sweep_file import read_sweep

    path = _sweep(tmp_path, {"lr": spec})
    with pytest.raises(ConfigError, match=named) as refused:
        read_sweep(path)
    assert "'lr'" in str(refused.value)


def test_sound_whole_and_stepped_ranges_are_read(tmp_path):
    from nasiam.runner.sweep_file import read_sweep

    read_sweep(_sweep(tmp_path, {"batch_size": {"distribution": "int_uniform", "min": 16, "max": 64},
                                 "lr": {"distribution": "q_uniform", "min": 0.01, "max": 0.1, "q": "0.01"},
                                 "arch_lr": {"distribution": "int_uniform", "min": 1, "max": 3}}))


def test_a_value_optuna_refuses_names_the_parameter():
    """T3: the error came from inside the objective, outside the trial's guard, naming nothing."""
    optuna = pytest.importorskip("optuna")
    from nasiam.runner.sweep_file import suggest

    trial = optuna.create_study().ask()
    with pytest.raises(ConfigError, match="sweep parameter 'lr'"):
        suggest(trial, "lr", {"distribution": "q_uniform", "min": 0.0, "max": 1.0, "q": 1e-300})


def test_a_run_refused_for_its_data_leaves_no_out_dir_it_made(tmp_path, monkeypatch):
    """T9: the run folder was removed, but the --out_dir above it, made for it, was left empty."""
    from nasiam.cli import main

    monkeypatch.delenv("NASIAM_DATA", raising=False)
    out = tmp_path / "new" / "o_nd"
    assert main(["pretrain", "--dataset=cifar10", f"--data_root={tmp_path / 'nothing_here'}", f"--out_dir={out}",
                 "--run_name=r"]) == 2
    assert not (tmp_path / "new").exists()


def test_the_lock_removes_only_the_empty_folders_it_made(tmp_path):
    from nasiam.runner.lock import RunDirLock

    (tmp_path / "mine").mkdir()
    with RunDirLock(tmp_path / "mine" / "out" / "run"):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"] and not any((tmp_path / "mine").iterdir())
    with RunDirLock(tmp_path / "mine" / "out" / "run"):
        (tmp_path / "mine" / "out" / "kept.txt").write_text("x")
    assert [p.name for p in (tmp_path / "mine" / "out").iterdir()] == ["kept.txt"]


@pytest.mark.parametrize("name, value", [("SLURM_NTASKS", "\u00b2"), ("SLURM_LOCALID", "\u00b2"),
                                         ("SLURM_NTASKS", "9" * 5000)])
def test_a_slurm_integer_int_cannot_read_is_named(monkeypatch, name, value):
    """T5: a superscript digit passed isdigit() and stopped nasiam's own int() with a traceback,
    5000 digits int()'s digit limit; SLURM_LOCALID='²' passed the check."""
    for variable in ("SLURM_JOB_ID", "SLURM_NTASKS", "SLURM_NTASKS_PER_NODE", "SLURM_PROCID", "SLURM_LOCALID",
                     "SLURM_NODEID", "SLURM_NNODES", "SLURM_JOB_NAME", "MASTER_ADDR", "NODE_RANK"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=f"the environment variable {name}=.* is not a number"):
        _pretrain_options()
    monkeypatch.setenv(name, " 1 ")
    _pretrain_options()


@pytest.mark.parametrize("labels, named", [("a, a", "--labels 'a, a': the label 'a' is given twice"),
                                           ("a,a", "the label 'a' is given twice"),
                                           ("a", "--labels a: 1 label for 2 runs"),
                                           ("a,b,c", "3 labels for 2 runs")])
def test_curves_labels_name_a_duplicate_and_count_in_words(tmp_path, capsys, labels, named):
    """T10: "a, a" drew two legend entries both "a"; one label for two runs said "1 labels"."""
    from nasiam.cli import main

    assert main(["eval", "curves", str(tmp_path / "r0"), str(tmp_path / "r1"), "--labels", labels]) == 2
    assert named in capsys.readouterr().err
    assert not (tmp_path / "curves.png").exists()


    assert not (tmp_path / "sw" / "sweep" / "history.png").exists()


@pytest.mark.parametrize("where, named", [("dangling", r"dangling is a link that leads nowhere \(to nowhere/deeper\)"),
                                          ("/proc/nasiam-probe22", "nothing can be created in /proc")])
def test_download_names_a_dangling_link_and_proc_for_what_they_are(tmp_path, where, named):
    """T8: a link that leads nowhere was "it is a file, not a folder"; /proc "No such file or directory"."""
    from pathlib import Path

    from nasiam.data import DataNotFoundError
    from nasiam.data.download import _make_folder

    folder = Path(where)
    if where == "dangling":
        folder = tmp_path / "dangling"
        folder.symlink_to("nowhere/deeper")
    with pytest.raises(DataNotFoundError, match=named) as refused:
        _make_folder(folder, "--data_root")
    assert "choose another --data_root" in str(refused.value)
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("args, named", [((10, True, 0), "batch_size must be an integer"),
                                         ((10, 2.5, 0), "batch_size must be an integer"),
                                         ((10, 3, 1.5), "seed must be an integer"),
                                         ((-5, 3, 0), "n must be an integer of at least 0"),
                                         ((10, 3, 0, 0, 0), "world_size must be an integer of at least 1")])
def test_shard_batches_names_the_argument_torch_cannot_take(args, named):
    """T7: torch's words ("split_sizes must be tuple of ints, not float", "negative dimension -5"),
    and world_size 0 blamed the rank."""
    from nasiam.data.device import shard_batches

    with pytest.raises(ValueError, match=named):
        shard_batches(*args)


@pytest.mark.parametrize("change, named", [
    ({"ratio": (0.0, 0.0)}, "ratio must be"),
    ({"jitter": (-1.0, 0.4, 0.4, 0.1)}, "jitter must be"),
    ({"jitter": (0.4, 0.4, 0.4, 0.9)}, "hue in"),
    ({"scale": (1.0, 0.2)}, "scale must be"),
    ({"scale": (0.2, 5.0)}, "scale must be"),
    ({"mean": (float("nan"), 0.5, 0.5)}, "mean must be finite"),
    ({"size": 1.5}, "size must be a whole number"),
    ({"size": True}, "size must be a whole number"),
])
def test_a_recipe_torchvision_would_refuse_is_refused_naming_the_argument(change, named):
    """T6: a ratio of 0 was "math domain error"; brightness -1, hue 0.9, scale (1.0, 0.2) or
    (0.2, 5.0) and a NaN mean were accepted; size 1.5 gave 2x2 views, True torch's error."""
    import dataclasses

    from nasiam.data.batched_augment import BatchedViews
    from nasiam.data.transforms import AugmentRecipe

    recipe = AugmentRecipe(16, 3, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    BatchedViews(recipe)
    with pytest.raises(ValueError, match=named):
        BatchedViews(dataclasses.replace(recipe, **change))
