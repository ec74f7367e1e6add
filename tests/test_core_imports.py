"""The core stays pure PyTorch: importing it must not pull in the training stack."""
import subprocess
import sys

import pytest

HEAVY = ("lightning", "pytorch_lightning", "torchvision", "timm", "wandb", "optuna", "lightly", "yaml", "matplotlib")


def test_core_modules_import_nothing_heavier_than_torch():
    core = ["nasiam", "nasiam.space", "nasiam.head", "nasiam.presets"]
    for extra in ("nasiam.frameworks", "nasiam.search"):
        try:
            __import__(extra)
            core.append(extra)
        except ImportError:
            pass
    code = ("import sys\n" + "".join(f"import {m}\n" for m in core) +
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"core imports pulled in: {out}"


def test_the_version_is_a_literal_setuptools_reads_without_importing_torch():
    # `pip install -e .` reads the version in an isolated build environment without torch: the
    # attribute pyproject names must be a plain literal, or setuptools imports the package
    import ast
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib")
    root = Path(__file__).resolve().parent.parent
    attr = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    module, name = attr.rsplit(".", 1)
    tree = ast.parse((root / Path(*module.split("."))).with_suffix(".py").read_text())
    values = [node.value for node in tree.body if isinstance(node, ast.Assign)
              and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)]
    assert values and isinstance(values[0], ast.Constant) and isinstance(values[0].value, str)
