"""Multi-node runs as a cluster starts them: SLURM's environment, one process per task started
from outside (as `srun` does), the global batch across nodes, SyncBatchNorm, `--resume=auto`.

The two "nodes" are two processes on this machine with the variables srun would set; Lightning
Fabric reads them (SLURMEnvironment) exactly as on a cluster.
"""
import json
import os
import socket
import subprocess
import sys

import pytest
from _runs import TINY, cli

from nasiam.config import PretrainConfig, load_config
from nasiam.errors import CheckpointError
from nasiam.runner.checkpoint import check_compatible
from nasiam.runner.logger import read_metrics
from nasiam.runner.optim import base_lr

PRETRAIN = [a for a in TINY if not a.startswith(("--warmup_epochs", "--widths", "--arch_lr"))] + [
    "--subset=256", "--knn_subset=64", "--linear_probe=false", "--log_every_n_steps=1", "--accelerator=cpu"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _slurm_env(rank: int, nodes: int, port: int) -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1",
            "SLURM_JOB_ID": "4242", "SLURM_JOB_NAME": "nasiam-test", "SLURM_NTASKS": str(nodes),
            "SLURM_NTASKS_PER_NODE": "1", "SLURM_NNODES": str(nodes), "SLURM_PROCID": str(rank),
            "SLURM_LOCALID": "0", "SLURM_NODEID": str(rank), "SLURM_NODELIST": "127.0.0.1",
            "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}


def _srun(args, nodes=2, timeout=900):
    """What `srun` does for `--nodes=N --ntasks-per-node=1`: N processes, each told its rank."""
    port = _free_port()
    procs = [subprocess.Popen([sys.executable, "-m", "nasiam", *args], env=_slurm_env(rank, nodes, port),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for rank in range(nodes)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        results.append((proc.returncode, out, err))
    return results


def _first_lr(run_dir):
    return next(row["train/lr"] for row in read_metrics(run_dir / "logs" / "metrics.csv") if "train/lr" in row)


@pytest.mark.slow
def test_two_slurm_nodes_train_one_run_with_the_global_batch(tmp_path):
    results = _srun(["pretrain", *PRETRAIN, "--num_nodes=2", "--devices=1", f"--out_dir={tmp_path}",
                     "--run_name=two-nodes"])
    for code, out, err in results:
        assert code == 0, out + err
    stdout = "".join(out for _, out, _ in results)
    assert stdout.count("Pretraining finished") == 1       # the global rank 0 reports, once
    summary = json.loads((tmp_path / "two-nodes" / "summary.json").read_text())
    assert summary["world_size"] == 2
    # the learning rate is scaled by the global batch: 32 images x 2 nodes
    assert abs(_first_lr(tmp_path / "two-nodes") - 0.05 * 32 * 2 / 256) < 1e-9


@pytest.mark.slow
def test_sync_batchnorm_across_cpu_processes_is_refused_before_training(tmp_path):
    """PyTorch's DDP runs SyncBatchNorm on CUDA only (its GPU path needs two GPUs: not run yet)."""
    results = _srun(["pretrain", *PRETRAIN, "--num_nodes=2", "--sync_batchnorm", f"--out_dir={tmp_path}",
                     "--run_name=sbn"])
    for code, out, err in results:
        assert code == 2, out + err
        assert "--sync_batchnorm needs GPUs" in err and "Traceback" not in err
    assert not (tmp_path / "sbn").exists()


@pytest.mark.slow
def test_slurm_and_the_options_disagreeing_on_nodes_is_a_usage_error(tmp_path):
    [(code, out, err)] = _srun(["pretrain", *PRETRAIN, "--num_nodes=2", f"--out_dir={tmp_path}", "--run_name=x"],
                               nodes=1)
    assert code == 2, out + err
    assert "num_nodes" in err and "Traceback" not in err
    assert not (tmp_path / "x" / "checkpoints").exists()


def test_learning_rate_scales_with_processes_on_all_nodes():
    cfg = load_config(PretrainConfig, None, {"lr": "0.1", "batch_size": "64", "devices": "2", "num_nodes": "3"},
                      check_environment=False)   # (three nodes are not this machine)
    assert cfg.world_size == 6
    assert base_lr(cfg) == 0.1 * 64 * 6 / 256


@pytest.mark.slow
def test_resume_auto_starts_when_there_is_nothing_and_continues_when_there_is(tmp_path):
    args = ["pretrain", *PRETRAIN, f"--out_dir={tmp_path}", "--run_name=requeued", "--resume=auto"]
    first = cli(*args, "--epochs=1")
    assert "resuming" not in first.stdout
    second = cli(*args, "--epochs=2")   # the requeued job runs the same command (here: one epoch more)
    assert "resuming" in second.stdout and "after epoch 1" in second.stdout
    summary = json.loads((tmp_path / "requeued" / "summary.json").read_text())
    assert [e["epoch"] for e in summary["epochs"]] == [1, 2]


@pytest.mark.slow
def test_resume_auto_needs_a_run_name(tmp_path):
    result = cli("pretrain", *PRETRAIN, f"--out_dir={tmp_path}", "--resume=auto", check=False)
    assert result.returncode == 2 and "--run_name" in result.stderr


def test_a_checkpoint_from_before_num_nodes_existed_resumes_under_its_default():
    saved = {"devices": 2, "seed": 0}   # written by a version without --num_nodes
    keys = ("devices", "num_nodes", "seed")
    check_compatible(saved, {"devices": 2, "num_nodes": 1, "seed": 0}, keys, "last.ckpt", defaults={"num_nodes": 1})
    with pytest.raises(CheckpointError, match="num_nodes: checkpoint 1, now 2"):
        check_compatible(saved, {"devices": 2, "num_nodes": 2, "seed": 0}, keys, "last.ckpt", defaults={"num_nodes": 1})
