"""The wheel: it builds from the source tree, installs into a fresh environment and works there."""
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


@pytest.mark.slow
def test_the_wheel_installs_into_a_fresh_venv_and_runs(tmp_path):
    pytest.importorskip("setuptools")   # --no-build-isolation: the build backend from this environment, no download
    source = tmp_path / "source"   # a copy: building in the tree would leave build/ and egg-info there
    shutil.copytree(ROOT / "nasiam", source / "nasiam", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "dist"), str(source)], check=True, env=env, cwd=tmp_path)
    [wheel] = (tmp_path / "dist").glob("nasiam-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "nasiam/py.typed" in names and "nasiam/space/genotype.py" in names
    assert not any(name.startswith("tests/") for name in names)

    # a fresh venv that sees this environment's packages (torch, ...) after its own, through a .pth
    # line (a directory named there is not a site directory: its .pth files, an editable nasiam's
    # among them, are not run), so `import nasiam` finds the wheel's
    target = tmp_path / "venv"
    venv.create(target, with_pip=False)
    python = target / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "outer-environment.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
                   check=True, env=env, cwd=tmp_path)

    def run(*command: str) -> str:
        done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    where = run(str(python), "-c", "import nasiam; print(nasiam.__file__)").strip()
    assert Path(where).is_relative_to(target), where
    help_text = run(str(target / "bin" / "nasiam"), "--help")
    assert "search" in help_text and "sweep" in help_text
