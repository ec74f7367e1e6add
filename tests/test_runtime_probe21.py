"""The twenty-first probe of #33, its run-time findings: an export's card and record (S3, S17),
the SLURM variables (S13) and a multi-node request outside a job step (S12), the processes of a
DDP run given different options (S12), a lost peer (S14), the W&B variables (S15)."""
import json
import os
import shutil
import subprocess
import sys

import pytest
from _runs import TINY

from nasiam.cli import main
from nasiam.config import ConfigError, PretrainConfig, SearchConfig, config_to_yaml, load_config
from nasiam.errors import CollapseError
from nasiam.rundir import run_card

SLURM_VARIABLES = ("SLURM_JOB_ID", "SLURM_NTASKS", "SLURM_NTASKS_PER_NODE", "SLURM_PROCID", "SLURM_LOCALID",
                   "SLURM_NODEID", "SLURM_NNODES", "SLURM_JOB_NAME", "MASTER_ADDR", "NODE_RANK")


@pytest.fixture
def no_cluster(monkeypatch):
    for name in SLURM_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _pretrain_options(**overrides):
    return load_config(PretrainConfig, None, {"dataset": "synthetic", **overrides})


def test_an_exports_card_names_the_dataset_it_recorded_not_a_new_run_at_the_same_path(tmp_path, monkeypatch):
    """S3: the run exported was removed and a new one (same framework and backbone, another
    dataset) made under its name; the card took the new run's dataset. S17: export.json's
    "out" and "checkpoint" were written as typed (relative)."""
    monkeypatch.chdir(tmp_path)
    assert main(["search", *TINY, "--subset=64", "--epochs=1", "--warmup_epochs=0", "--out_dir=runs",
                 "--run_name=s0"]) == 0
    assert main(["export", "runs/s0", "--out", "ex"]) == 0
    record = json.loads((tmp_path / "ex" / "export.json").read_text())
    assert record["dataset"] == "synthetic"
    assert all(os.path.isabs(record[key]) for key in ("out", "run", "checkpoint"))
    config = SearchConfig(dataset="synthetic")
    shutil.rmtree("runs/s0")
    os.makedirs("runs/s0")   # a new run of that name: the same framework and backbone, another dataset
    new = SearchConfig(dataset="fashion_mnist", framework=config.framework, backbone=config.backbone)
    (tmp_path / "runs" / "s0" / "config.yaml").write_text(config_to_yaml(new))
    assert run_card("ex")["dataset"] == "synthetic"


@pytest.mark.parametrize("env, named", [
    ({"SLURM_JOB_ID": "123", "SLURM_NTASKS": "2", "SLURM_PROCID": "1", "SLURM_LOCALID": "1", "SLURM_NODEID": "0",
      "SLURM_JOB_NAME": "train"}, "SLURM_NTASKS=2"),
    ({"SLURM_JOB_ID": "", "SLURM_NTASKS": "abc", "SLURM_PROCID": "x"}, "SLURM_PROCID='x'"),
])
def test_slurm_variables_lightning_refuses_are_named_before_anything_is_written(no_cluster, tmp_path, env, named):
    """S13: Lightning's RuntimeError (an sbatch --ntasks job run without srun) or its ValueError at
    import (a rank that is not a number) was a traceback, exit 1."""
    for name, value in env.items():
        no_cluster.setenv(name, value)
    with pytest.raises(ConfigError, match=named) as refused:
        _pretrain_options()
    assert "srun" in str(refused.value)
    assert main(["pretrain", *[a for a in TINY if not a.startswith(("--widths", "--warmup_epochs", "--arch_lr"))],
                 f"--out_dir={tmp_path}/runs", "--run_name=p"]) == 2
    assert not (tmp_path / "runs").exists()


def test_an_srun_task_with_ntasks_per_node_and_an_interactive_shell_are_accepted(no_cluster):
    no_cluster.setenv("SLURM_JOB_ID", "123")
    no_cluster.setenv("SLURM_NTASKS", "2")
    no_cluster.setenv("SLURM_JOB_NAME", "bash")   # Lightning's interactive mode: not a job step
    _pretrain_options()
    no_cluster.setenv("SLURM_JOB_NAME", "train")
    no_cluster.setenv("SLURM_NTASKS_PER_NODE", "2")
    _pretrain_options()


def test_several_nodes_need_a_job_step_not_only_a_job_id(no_cluster):
    """S12: SLURM_JOB_ID alone (a shell in an allocation, no srun) let --num_nodes 2 start and wait
    for nodes that never came."""
    no_cluster.setenv("SLURM_JOB_ID", "1")
    with pytest.raises(ConfigError, match="--num_nodes=2 outside a cluster job step"):
        _pretrain_options(num_nodes=2)
    for name, value in {"SLURM_NTASKS": "4", "SLURM_NTASKS_PER_NODE": "2", "SLURM_NNODES": "2",
                        "SLURM_JOB_NAME": "train"}.items():
        no_cluster.setenv(name, value)
    _pretrain_options(num_nodes=2)


@pytest.mark.parametrize("env, named", [
    ({"WANDB_MODE": "bogus"}, "WANDB_MODE='bogus' is not a W&B mode"),
    ({"WANDB_MODE": "offline", "WANDB_RUN_ID": "../../x"}, "WANDB_RUN_ID='../../x' is not a W&B run id: it holds /"),
    ({"WANDB_MODE": "offline", "WANDB_RUN_ID": " x"}, "WANDB_RUN_ID=' x' is not a W&B run id"),
])
def test_wandb_variables_are_checked_before_anything_is_written(monkeypatch, tmp_path, env, named):
    """S15: W&B's pydantic ValidationError / UsageError, exit 1, after the data were loaded, the
    run folder left with config.yaml and logs/."""
    pytest.importorskip("wandb")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=named):
        _pretrain_options(wandb=True)
    _pretrain_options()   # without --wandb they are not W&B's business
    assert main(["pretrain", "--dataset=synthetic", "--wandb", f"--out_dir={tmp_path}/runs", "--run_name=w"]) == 2
    assert not (tmp_path / "runs").exists()


def test_processes_given_different_options_are_named():
    """S12 (the rule): what one rank was given that rank 0 was not, each named with both values."""
    from nasiam.runner.loop import ranks_disagreement

    same = {"batch_size": 16, "seed": 0}
    assert ranks_disagreement([same, dict(same)]) is None
    problem = ranks_disagreement([same, {"batch_size": 8, "seed": 7}])
    assert "--batch_size 16 on rank 0, 8 on rank 1" in problem and "--seed 0 on rank 0, 7 on rank 1" in problem


def test_a_lost_peer_says_the_checkpoints_are_kept_and_resume_continues(tmp_path):
    """S14: rank 0 left with gloo's traceback when rank 1 was killed; nothing said --resume."""
    from nasiam.runner.loop import is_lost_peer, lost_peer_message

    gloo = RuntimeError("[../third_party/gloo/gloo/transport/tcp/pair.cc:561] Connection closed by peer "
                        "[127.0.0.1]:7791")
    assert is_lost_peer(gloo) and not is_lost_peer(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    assert not is_lost_peer(CollapseError("collapsed: broken pipe"))   # keeps its own exit code (3)
    message = lost_peer_message(gloo, 2, tmp_path / "r")
    assert "Connection closed by peer" in message and "--resume continues" in message
    assert str(tmp_path / "r" / "checkpoints") in message


RANK_ARGS = """#!/bin/sh
# rank 1 is given another --batch_size and --seed than rank 0
if [ "$RANK" = 1 ]; then extra="--batch_size 8 --seed 7"; else extra=""; fi
exec "{python}" -m nasiam pretrain "$@" $extra
"""


@pytest.mark.slow
def test_torchrun_processes_given_different_options_stop_with_exit_2(tmp_path):
    """S12: two torchrun processes of which one had --batch_size 8 --seed 7 hung without a word."""
    pytest.importorskip("torch.distributed.run")
    script = tmp_path / "rankargs.sh"
    script.write_text(RANK_ARGS.format(python=sys.executable))
    script.chmod(0o755)
    options = ["--dataset=synthetic", "--image_size=16", "--batch_size=16", "--subset=64", "--knn_subset=32",
               "--num_workers=0", "--epochs=1", "--devices=2", "--accelerator=cpu", f"--out_dir={tmp_path}/runs",
               "--run_name=t"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "MASTER_", "RANK", "WORLD_SIZE"))}
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--no_python",
                             "--master_port=29517", str(script), *options], capture_output=True, text=True,
                            env={**env, "PYTHONUNBUFFERED": "1"}, timeout=240)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "exitcode  : 2" in output, output[-3000:]   # a rank's own exit: 2
    assert "--batch_size 16 on rank 0, 8 on rank 1; --seed 0 on rank 0, 7 on rank 1" in output, output[-3000:]
    assert not (tmp_path / "runs").exists()


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


@pytest.mark.slow
def test_a_rank_killed_mid_run_leaves_rank_0_saying_resume_continues(tmp_path):
    """S14: rank 1 (a child of rank 0 under --devices 2) SIGKILLed after the first epoch: rank 0
    left with gloo's traceback, exit 1, and nothing said that the checkpoints were kept."""
    import signal
    import time

    options = ["--dataset=synthetic", "--image_size=16", "--batch_size=16", "--subset=64", "--knn_subset=32",
               "--num_workers=0", "--epochs=200", "--devices=2", "--accelerator=cpu", f"--out_dir={tmp_path}/runs",
               "--run_name=k"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "MASTER_", "RANK", "WORLD_SIZE"))}
    rank0 = subprocess.Popen([sys.executable, "-m", "nasiam", "pretrain", *options], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, env={**env, "PYTHONUNBUFFERED": "1"})
    try:
        last = tmp_path / "runs" / "k" / "checkpoints" / "last.ckpt"
        deadline = time.monotonic() + 180
        while not last.exists() and rank0.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        ranks = [p for p in _children(rank0.pid)
                 if "nasiam" in open(f"/proc/{p}/cmdline").read()]
        assert last.exists() and ranks, "rank 1 did not start, or no epoch was checkpointed"
        os.kill(ranks[0], signal.SIGKILL)
        output, _ = rank0.communicate(timeout=120)
    finally:
        if rank0.poll() is None:
            rank0.kill()
            rank0.wait()
    assert rank0.returncode == 8, output[-3000:]   # PeerLostError: documented
    assert "another of the run's 2 processes stopped" in output and "--resume continues" in output, output[-3000:]
    assert "Traceback" not in output and last.exists()


@pytest.mark.parametrize("change, named", [
    ({"std": (0.0, 0.0, 0.0)}, "std must be above 0"),
    ({"blur_p": 0.5, "blur_sigma": (0.0, 0.0)}, "blur_sigma must be"),
    ({"size": 0}, "size must be a whole number of pixels, at least 1"),
    ({"mean": (0.5,)}, "mean has 1 value"),
    ({"jitter_p": 2.0}, "jitter_p is a probability"),
])
def test_a_recipe_no_view_can_be_made_with_is_refused_naming_the_argument(change, named):
    """S16: std 0 gave inf, sigma 0 NaN, size 0 empty views, a short mean was broadcast, a
    probability of 2 accepted."""
    import dataclasses

    from nasiam.data.batched_augment import BatchedViews
    from nasiam.data.transforms import AugmentRecipe

    recipe = AugmentRecipe(16, 3, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    BatchedViews(recipe)
    with pytest.raises(ValueError, match=named):
        BatchedViews(dataclasses.replace(recipe, **change))


@pytest.mark.parametrize("args, named", [((10, 0, 0), "batch_size must be an integer of at least 1"),
                                         ((10, -2, 0), "batch_size must be an integer of at least 1"),
                                         ((10, 2, 2 ** 64), "seed must be an integer")])
def test_shard_batches_names_a_batch_size_or_seed_it_cannot_use(args, named):
    from nasiam.data.device import shard_batches

    with pytest.raises(ValueError, match=named):
        shard_batches(*args)
    assert [len(b) for b in shard_batches(10, 4, 0)] == [4, 4]


def test_curves_labels_are_stripped_and_an_empty_one_is_refused(tmp_path, capsys):
    """S17: "a, a" drew two legend entries that printed alike; "," averaged both runs under an
    empty label, exit 0."""
    from nasiam.cli.evaluate import legend_labels

    assert legend_labels("a, b", 2) == ["a", "b"] and legend_labels(" seeds ,x", 2) == ["seeds", "x"]
    assert main(["eval", "curves", str(tmp_path / "r0"), str(tmp_path / "r1"), "--labels", ","]) == 2
    assert "--labels ,: label 1 of 2 is empty" in capsys.readouterr().err
    assert not (tmp_path / "curves.png").exists()
