"""The `environment` record every run keeps in its summary.json."""
import json
import sys

import torch

from nasiam.runner.environment import environment


def test_environment_records_this_process():
    record = environment("cpu")
    assert record["torch"] == torch.__version__ and record["device"] == "cpu"
    assert record["threads"] == torch.get_num_threads() and record["nasiam"]
    json.dumps(record)   # JSON-ready


def test_a_module_run_from_a_checkout_reports_its_own_version(monkeypatch):
    """On the GPU machines nasiam runs from a checkout on PYTHONPATH, with no distribution
    metadata: the imported module's __version__ is what counts; what is absent reads None."""
    import types

    from nasiam.runner.environment import _version

    monkeypatch.setitem(sys.modules, "timm", types.SimpleNamespace(__version__="9.9.9"))
    assert environment()["timm"] == "9.9.9"
    assert _version("no_such_module_here", "no-such-distribution-here") is None
