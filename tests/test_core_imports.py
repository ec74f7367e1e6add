"""The core stays pure PyTorch: importing it must not pull in the training stack."""
import subprocess
import sys

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
