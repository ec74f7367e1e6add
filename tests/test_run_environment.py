"""The `environment` record every run keeps in its summary.json."""
import json

import torch

from nasiam.runner.environment import environment


def test_environment_records_this_process():
    record = environment("cpu")
    assert record["torch"] == torch.__version__ and record["device"] == "cpu"
    assert record["threads"] == torch.get_num_threads() and record["nasiam"]
    json.dumps(record)   # JSON-ready
