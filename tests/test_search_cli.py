"""`nasiam search` as a process: SIGKILL and --resume, DDP over two CPU processes, real data."""
import json
import signal
import subprocess
import sys
import time

import pytest
from _runs import TINY, cli

from nasiam.data import FASHION_MNIST_DEBIAN_ROOT
from nasiam.runner.logger import read_metrics

pytestmark = pytest.mark.slow  # every test here trains or compiles

LONGER = TINY + ["--epochs=5", "--subset=768"]  # three epochs left after the kill point


def test_sigkill_mid_epoch_then_resume_equals_an_uninterrupted_run(tmp_path):
    cli("search", *LONGER, f"--out_dir={tmp_path}", "--run_name=whole")
    cmd = [sys.executable, "-m", "nasiam", "search", *LONGER, f"--out_dir={tmp_path}", "--run_name=cut"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = tmp_path / "cut" / "checkpoints" / "epoch=2.ckpt"
    deadline = time.time() + 1200  # generous: a loaded machine must not make this flaky
    while not marker.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.4)  # into the third epoch
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed mid-epoch"
    assert not (tmp_path / "cut" / "genotype.json").exists()
    cli("search", *LONGER, f"--out_dir={tmp_path}", "--run_name=cut", "--resume")
    whole = json.loads((tmp_path / "whole" / "genotype.json").read_text())
    resumed = json.loads((tmp_path / "cut" / "genotype.json").read_text())
    assert resumed == whole
    assert (tmp_path / "cut" / "alphas.csv").read_text() == (tmp_path / "whole" / "alphas.csv").read_text()
    # the metrics log kept the finished epochs and redid the interrupted one, once
    epochs = [row["epoch/epoch"] for row in read_metrics(tmp_path / "cut" / "logs" / "metrics.csv")
              if "epoch/epoch" in row]
    assert epochs == [1, 2, 3, 4, 5]


def test_ddp_on_two_cpu_processes_agrees_on_the_genotype(tmp_path):
    result = cli("search", *TINY, "--devices=2", f"--out_dir={tmp_path}", "--run_name=ddp", timeout=900)
    summary = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["ranks_agree"] is True
    assert (tmp_path / "ddp" / "genotype.json").is_file()
    assert result.stdout.count("Search finished") == 1  # rank 0 reports, once


@pytest.mark.skipif(not FASHION_MNIST_DEBIAN_ROOT.exists(), reason="dataset-fashion-mnist is not installed")
def test_fashion_mnist_search_from_the_cli(tmp_path):
    result = cli("search", "--subset=1024", "--batch_size=128", "--epochs=2", "--num_workers=0",
                 "--knn_subset=1000", f"--out_dir={tmp_path}", "--run_name=fmnist")
    summary = json.loads((tmp_path / "fmnist" / "summary.json").read_text())
    assert summary["knn_top1"] > 30  # 10 classes: chance is 10 %
    assert "projector" in result.stdout
