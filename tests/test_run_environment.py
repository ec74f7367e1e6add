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


def test_the_code_commit_and_a_dirty_tree_are_recorded(tmp_path, monkeypatch):
    """A run names the commit it ran from and whether tracked files differed from it (#32):
    a copy of the package in a fresh repository, committed, then edited."""
    import importlib.util
    import shutil
    import subprocess

    from nasiam.runner import environment as module

    package = tmp_path / "nasiam" / "runner"
    package.mkdir(parents=True)
    shutil.copy(module.__file__, package / "environment.py")
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()

    def load():
        spec = importlib.util.spec_from_file_location("env_copy", package / "environment.py")
        copy = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(copy)
        return copy.code_version()

    assert load() == {"commit": head, "dirty": False}
    (package / "environment.py").write_text((package / "environment.py").read_text() + "\n# edited\n")
    assert load() == {"commit": head, "dirty": True}
    shutil.rmtree(tmp_path / ".git")
    assert load() is None   # an installed copy: no commit to name
