"""`nasiam search` end to end, in process (fast) and as a CLI."""
import errno
import json
import os
from pathlib import Path

import pytest
import torch
from _runs import TINY

from nasiam import NASHead
from nasiam.cli import main
from nasiam.frameworks.simsiam import SimSiam
from nasiam.rundir import read_genotypes
from nasiam.runner.checkpoint import load_checkpoint
from nasiam.runner.logger import read_metrics
from nasiam.runner.search import SEARCH_METRICS


def run(tmp_path, *extra, name="run"):
    return main(["search", *TINY, f"--out_dir={tmp_path}", f"--run_name={name}", *extra])


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["simsiam", "simclr", "moco", "mocov3"])
def test_search_each_framework_writes_a_valid_genotype_and_loadable_heads(tmp_path, framework, capsys):
    # the mlp space: its width choices are what the genotype's recorded options are checked on
    assert run(tmp_path, f"--framework={framework}", "--space=mlp") == 0
    out = capsys.readouterr().out
    run_dir = tmp_path / "run"
    assert "Search finished" in out and str(run_dir) in out
    framework_name, genotypes = read_genotypes(run_dir / "genotype.json")
    assert framework_name == {"moco": "mocov2"}.get(framework, framework)
    for slot, genotype in genotypes.items():
        assert slot in out and genotype.describe() in out
        head = NASHead.from_pretrained(run_dir / "heads" / slot)
        assert head.genotype.layers == genotype.layers
        assert head(torch.randn(4, head.in_dim)).shape == (4, genotype.out_dim)
        assert len(genotype.decisions[0]["width"]) == 2  # top_k options recorded with probabilities
    for name in ("alphas.csv", "alphas.png", "backbone.safetensors", "backbone.json", "config.yaml", "summary.json",
                 "logs/metrics.csv", "checkpoints/last.ckpt"):
        assert (run_dir / name).is_file(), name
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["ranks_agree"] and summary["knn_top1"] > 10
    assert summary["environment"]["torch"] == torch.__version__ and summary["environment"]["device"] == "cpu"
    assert not list(run_dir.rglob("*.tmp"))
    assert _numbers(summary) <= set(SEARCH_METRICS), _numbers(summary) - set(SEARCH_METRICS)


def _numbers(summary) -> set:
    """The summary's top-level numbers: what a sweep's metric may name (`nasiam sweep` checks it
    against SEARCH_METRICS before its first trial, so a number missing there would be refused)."""
    return {k for k, v in summary.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


@pytest.mark.slow
@pytest.mark.parametrize("options", [["--strategy=darts2"], ["--strategy=gumbel"], ["--mode=joint"],
                                     ["--space=nasiam", "--projector_layers=2", "--predictor_layers=2"]])
def test_search_strategies_modes_and_spaces(tmp_path, options):
    assert run(tmp_path, *options) == 0
    _, genotypes = read_genotypes(tmp_path / "run")
    assert set(genotypes) == {"projector", "predictor"}
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert _numbers(summary) <= set(SEARCH_METRICS), _numbers(summary) - set(SEARCH_METRICS)


@pytest.mark.slow
def test_exported_heads_carry_the_searched_weights(tmp_path):
    assert run(tmp_path) == 0
    head = NASHead.from_pretrained(tmp_path / "run" / "heads" / "projector")
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")["model"]
    out_weight = head[-1].linear.weight  # the fixed output layer, sliced to the chosen input width
    torch.testing.assert_close(out_weight, state["projector.layers.1.block.linear.weight"][:, :out_weight.shape[1]])


@pytest.mark.slow
def test_alphas_move_during_the_search(tmp_path):
    assert run(tmp_path, "--epochs=3") == 0
    import csv

    rows = list(csv.DictReader(open(tmp_path / "run" / "alphas.csv")))
    first = {(r["head"], r["layer"], r["choice"], r["option"]): float(r["probability"]) for r in rows if r["epoch"] == "0"}
    last = {(r["head"], r["layer"], r["choice"], r["option"]): float(r["probability"]) for r in rows if r["epoch"] == "3"}
    assert max(abs(last[k] - first[k]) for k in first) > 0.05


@pytest.mark.slow
def test_export_command_writes_the_kth_genotype(tmp_path, capsys):
    assert run(tmp_path) == 0
    assert main(["export", str(tmp_path / "run"), "--out", str(tmp_path / "k1")]) == 0
    assert main(["export", str(tmp_path / "run"), "--out", str(tmp_path / "k2"), "--rank", "2",
                 "--checkpoint", str(tmp_path / "run" / "checkpoints" / "epoch=1.ckpt")]) == 0
    _, searched = read_genotypes(tmp_path / "run")
    _, first = read_genotypes(tmp_path / "k1")
    _, second = read_genotypes(tmp_path / "k2")
    assert {s: g.layers for s, g in first.items()} == {s: g.layers for s, g in searched.items()}
    assert second["projector"].meta["rank"] == 2 and second["projector"].meta["epoch"] == 1
    assert NASHead.from_pretrained(tmp_path / "k2" / "heads" / "projector").out_dim == 32


@pytest.mark.slow
def test_the_width_error_names_an_export_that_makes_the_run_fit_lightly(tmp_path, capsys):
    """A run searched at another output width than the model's: the error's command re-exports
    it at the model's width, keeping the searched hidden layers' weights."""
    pytest.importorskip("lightly")
    import re
    import shlex

    from lightly.models.modules import SimSiamPredictionHead, SimSiamProjectionHead

    from nasiam.integrations import HeadMismatchError
    from nasiam.integrations.lightly import replace_heads

    assert run(tmp_path) == 0  # a 32-wide projector output on resnet10t's 512 features
    model = torch.nn.Module()
    model.projection_head, model.prediction_head = SimSiamProjectionHead(512, 64, 24), SimSiamPredictionHead(24, 8, 24)
    with pytest.raises(HeadMismatchError) as error:
        replace_heads(model, tmp_path / "run")
    command = shlex.split(re.search(r"`(nasiam export [^`]+)`", str(error.value)).group(1))
    capsys.readouterr()
    assert main(command[1:]) == 0
    out = capsys.readouterr().out
    assert "searched weights kept in layers" in out and "freshly initialised" in out
    exported = tmp_path / "run-out24"
    replace_heads(model, exported)
    searched = NASHead.from_pretrained(tmp_path / "run" / "heads" / "projector")
    projector = model.projection_head
    assert (projector.out_dim, model.prediction_head.out_dim) == (24, 24)
    assert projector.genotype.layers[:-1] == searched.genotype.layers[:-1]
    assert projector.genotype.meta["fresh_layers"] == [len(searched) - 1]
    for i in range(len(searched) - 1):  # the hidden layers carry the searched weights
        torch.testing.assert_close(projector[i].linear.weight, searched[i].linear.weight)
    _, written = read_genotypes(exported / "genotype.json")
    assert written["projector"].meta["resized_from"] == {"out_dim": 32}


@pytest.mark.parametrize("options,message", [
    (["--framework=byol"], "--framework: 'byol' is not one of"),
    (["--backbone=resnet1000"], "unknown backbone 'resnet1000'"),
    (["--dataset=mnist3d"], "--dataset: 'mnist3d' is not one of"),
    (["--activations=relu,swishy"], "unknown activation 'swishy'"),
    (["--dataset=cifar10", "--data_root=/nonexistent/cifar"], "CIFAR-10 not found: expected cifar-10-batches-py"),
    (["--widths=0,16"], "--widths: width 0 must be an integer"),
    (["--proj_layers=5"], "SimSiam's projector has 3 layers"),
    (["--subset=40"], "cannot fill a batch"),
    (["--epochs=1"], "leaves no epoch to search"),
    (["--arch_lrr=1"], "did you mean --arch_lr"),
    (["--strategy=gumbel", "--tau_min=0"], "--tau_min must be between 0.001 and"),
    (["--strategy=darts2", "--mode=joint"], "use --mode=bilevel"),
    (["--precision=bf16-true"], "half precision"),
])
def test_bad_input_is_a_clear_error_with_exit_code_2(tmp_path, capsys, options, message):
    assert run(tmp_path, *options) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert not (tmp_path / "run" / "genotype.json").exists()


@pytest.mark.slow
def test_corrupt_and_foreign_checkpoints_are_refused(tmp_path, capsys):
    assert run(tmp_path) == 0
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    good = last.read_bytes()
    last.write_bytes(good[: len(good) // 2])
    assert run(tmp_path, "--resume", "--epochs=3") == 2
    assert "corrupt" in capsys.readouterr().err
    torch.save({"state_dict": {"w": torch.ones(1)}}, last)
    assert run(tmp_path, "--resume", "--epochs=3") == 2
    assert "not written by nasiam" in capsys.readouterr().err
    last.write_bytes(good)
    assert run(tmp_path, "--resume", "--epochs=3", "--widths=16,64") == 2
    assert "different configuration (widths" in capsys.readouterr().err
    assert run(tmp_path, "--resume", "--epochs=3") == 0  # the intact checkpoint still resumes


@pytest.mark.slow
def test_resume_refuses_a_changed_seed_subset_or_arch_fraction(tmp_path, capsys):
    """They change the data split and the data order: a resumed run would silently be another run."""
    assert run(tmp_path, "--epochs=1", "--warmup_epochs=0") == 0
    capsys.readouterr()
    for option in ("--seed=1", "--subset=320", "--arch_fraction=0.4"):
        assert run(tmp_path, "--resume", "--epochs=2", "--warmup_epochs=0", option) == 2, option
        key = option[2:].split("=")[0]
        assert f"different configuration ({key}: checkpoint " in capsys.readouterr().err, option


@pytest.mark.slow
def test_starting_over_an_existing_run_is_refused(tmp_path, capsys):
    assert run(tmp_path) == 0
    assert run(tmp_path) == 2
    assert "already holds a run; continue it with --resume" in capsys.readouterr().err


@pytest.mark.slow
def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, capsys, monkeypatch):
    original, calls = SimSiam.head_loss, {"n": 0}

    def poisoned(self, encoded, update_state=True):
        out = original(self, encoded, update_state)
        calls["n"] += 1
        if calls["n"] > 14:  # well into the second epoch (6 weight steps + 6 arch steps per epoch)
            out["loss"] = out["loss"] * float("nan")
        return out

    monkeypatch.setattr(SimSiam, "head_loss", poisoned)
    assert run(tmp_path) == 4
    err = capsys.readouterr().err
    assert "the loss became nan at epoch 2" in err and "last.ckpt (after epoch 1)" in err
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")["epoch"] == 1
    assert not (tmp_path / "run" / "genotype.json").exists()


@pytest.mark.slow
def test_disk_full_while_saving_keeps_the_previous_checkpoint(tmp_path, capsys, monkeypatch):
    import nasiam._io as io_module

    real_fsync = os.fsync
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"

    def fsync(fd):
        # the disk fills up while the second last.ckpt is written (the temporary file that
        # would replace epoch 1's); every other file goes through, however many the run writes
        writing = Path(os.readlink(f"/proc/self/fd/{fd}")).name
        if writing.startswith(".last.ckpt.") and last.is_file():
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(io_module.os, "fsync", fsync)
    assert run(tmp_path) == 5
    assert "the disk is full" in capsys.readouterr().err
    monkeypatch.undo()
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")["epoch"] == 1
    assert not list((tmp_path / "run").rglob("*.tmp"))


@pytest.mark.slow
def test_wandb_offline_run_is_written_without_network(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    for key in ("WANDB_API_KEY", "WANDB_MODE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setenv("WANDB_SILENT", "true")
    # the keys below are the mlp space's; with --below_noise prior (the default) a fallback makes the
    # exported genotype differ from the last epoch's argmax: the summary must hold the exported one
    assert run(tmp_path, "--wandb", "--knn_every=1", "--space=mlp") == 0
    from _wandb_log import logged

    history, summary = logged(tmp_path / "run")
    assert {"train/loss", "train/arch_loss", "train/images_per_second", "epoch/collapse_std",
            "epoch/effective_rank", "genotype/projector", "argmax/projector", "alphas/_type", "alphas_heatmap/projector/_type",
            "prob/projector/layer0/width/32", "prob/predictor/layer0/keep/False", "genotype_table/_type"} <= history
    assert {"genotype/projector", "head_parameters", "head_flops", "knn_top1"} <= set(summary)
    assert json.loads(summary["head_flops"])["projector"] > 0
    assert {"epoch/knn_top1", "knn_top1"} <= history   # knn_top1: the name recipes/sweeps optimise
    assert json.loads(summary["genotype/projector"]) == read_genotypes(tmp_path / "run")[1]["projector"].describe()
    # one key per value in W&B's summary: no nested {"genotype": {...}} shown as genotype.projector
    # beside the genotype/projector the epochs log
    nested = {f"{key}/{sub}" for key, value in summary.items() if isinstance(json.loads(value), dict)
              for sub in json.loads(value)}
    assert not nested & history


def test_help_lists_every_option_with_its_default(capsys):
    from dataclasses import fields

    from nasiam.config import SearchConfig

    with pytest.raises(SystemExit):
        main(["search", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for f in fields(SearchConfig):
        assert f"--{f.name}" in text, f.name
    assert text.count("(default:") >= len(fields(SearchConfig))


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["tpe", "random"])
def test_multi_trial_strategies_pick_the_best_scored_genotype(tmp_path, strategy):
    import csv

    pytest.importorskip("optuna")  # the multi-trial strategies' optional extra, nasiam[optuna]
    assert run(tmp_path, f"--strategy={strategy}", "--genotype_trials=8", "--trial_batches=2", "--space=mlp") == 0
    run_dir = tmp_path / "run"
    trials = list(csv.DictReader(open(run_dir / "trials.csv")))
    assert len(trials) == 8
    best = min(trials, key=lambda t: float(t["score"]))
    _, genotypes = read_genotypes(run_dir)
    for slot, genotype in genotypes.items():
        layer = genotype.decisions[0]
        for choice, ranked in layer.items():
            assert str(ranked[0][0]) == best[f"{slot}.0.{choice}"]
    rows = list(csv.DictReader(open(run_dir / "alphas.csv")))
    trained = {float(r["probability"]) for r in rows if r["epoch"] in ("0", "1", "2") and r["choice"] == "width"}
    assert trained == {0.5}  # one-shot training leaves the logits alone; the trials decide
    assert NASHead.from_pretrained(run_dir / "heads" / "projector").genotype.layers == genotypes["projector"].layers
    assert main(["export", str(run_dir), "--out", str(tmp_path / "again")]) == 0  # the checkpoint holds the choice
    assert {s: g.layers for s, g in read_genotypes(tmp_path / "again")[1].items()} == \
        {s: g.layers for s, g in genotypes.items()}


@pytest.mark.slow
def test_epoch_arch_metrics_average_over_architecture_steps(tmp_path):
    assert run(tmp_path, "--arch_every=2", "--log_every_n_steps=1") == 0
    rows = read_metrics(tmp_path / "run" / "logs" / "metrics.csv")
    steps = sorted({r["step"] for r in rows if "train/loss" in r})
    last_epoch = [r["train/arch_loss"] for r in rows if "train/arch_loss" in r and r["step"] > steps[len(steps) // 2 - 1]]
    epoch_value = [r["epoch/arch_loss"] for r in rows if "epoch/arch_loss" in r][-1]
    assert len(last_epoch) == len(steps) // 4  # every other step of the second epoch
    assert epoch_value == pytest.approx(sum(last_epoch) / len(last_epoch), rel=1e-4)


class _CollapsedBackbone(torch.nn.Module):
    """Every image gets the same 32 features (plus 1e-3 noise): a fully collapsed backbone."""
    num_features = 32

    def __init__(self, *args, **kwargs):
        super().__init__()
        self.center = torch.nn.Parameter(torch.randn(32))

    def forward(self, images):
        noise = 1e-3 * torch.randn(len(images), 32, generator=torch.Generator().manual_seed(len(images)))
        return self.center.expand(len(images), -1) + noise + 0 * images.mean()


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["simsiam", "simclr", "mocov2", "mocov3"])
def test_a_collapsed_backbone_is_seen_for_every_framework(tmp_path, monkeypatch, capsys, framework):
    """The projectors of SimSiam, SimCLR and MoCo v3 end in BatchNorm, which gives their output
    unit variance per dimension even from identical features: judged on the projector alone,
    such a search exported its genotype. It must be refused (exit 3) whatever the method."""
    import nasiam.runner.build as build
    from nasiam.cli import main

    monkeypatch.setattr(build, "create_backbone", lambda *a, **k: _CollapsedBackbone())
    code = main(["search", *TINY, f"--framework={framework}", "--epochs=1", "--warmup_epochs=0",
                 f"--out_dir={tmp_path}", "--run_name=c"])
    assert code == 3, capsys.readouterr()
    assert "backbone features" in capsys.readouterr().err
    summary = json.loads((tmp_path / "c" / "summary.json").read_text())
    assert summary["collapse"]["feature_normalized_std"] < 0.05 and "backbone features" in summary["collapse"]["where"]
    assert not (tmp_path / "c" / "genotype.json").exists() and (tmp_path / "c" / "genotype.rejected.json").is_file()


@pytest.mark.slow
def test_a_diverged_run_exits_4_even_when_the_monitors_see_the_nans_first(tmp_path, capsys, monkeypatch):
    """Losses are checked every --log_every_n_steps steps; an epoch that ends between two checks
    used to reach the collapse monitor's SVD with NaN embeddings (a traceback, exit 1)."""
    original, calls = SimSiam.head_loss, {"n": 0}

    def diverged(self, encoded, update_state=True):
        out = original(self, encoded, update_state)
        calls["n"] += 1
        if calls["n"] > 1:   # after the first step, which is always checked
            out["loss"], out["z"] = out["loss"] * float("nan"), out["z"] * float("nan")
        return out

    monkeypatch.setattr(SimSiam, "head_loss", diverged)
    code = main(["pretrain", *[a for a in TINY if not a.startswith(("--warmup_epochs", "--widths", "--arch_lr"))],
                 "--log_every_n_steps=1000", "--linear_probe=false", f"--out_dir={tmp_path}", "--run_name=nan"])
    assert code == 4, capsys.readouterr().err
    assert "the loss became nan" in capsys.readouterr().err


def test_an_architecture_half_smaller_than_a_batch_is_refused_before_training(tmp_path, capsys):
    assert main(["search", *TINY, "--arch_fraction=0.01", f"--out_dir={tmp_path}", "--run_name=x"]) == 2
    assert "leaves 4 of 384 training images for the architecture half" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
