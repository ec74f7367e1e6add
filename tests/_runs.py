"""Tiny run configurations shared by the runner tests (seconds on two CPU cores)."""
import os
import subprocess
import sys

TINY = ["--dataset=synthetic", "--subset=384", "--image_size=16", "--batch_size=32", "--epochs=2",
        "--warmup_epochs=1", "--num_workers=0", "--widths=16,32", "--proj_hidden_dim=32", "--proj_output_dim=32",
        "--pred_hidden_dim=16", "--queue_size=64", "--knn_subset=128", "--knn_k=20", "--arch_lr=0.05"]


def cli(*args, env=None, timeout=600, check=True):
    """Run `python -m nasiam ...` in a fresh process."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    result = subprocess.run([sys.executable, "-m", "nasiam", *args], capture_output=True, text=True,
                            env=full_env, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"nasiam {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result
