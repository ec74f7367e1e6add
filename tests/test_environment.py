"""Set-up and environment failures (issue 11): the README's set-up and quick start, `--download`
through torchvision's downloaders (no network: the transfer is faked), clean exit-2 messages
for missing optional packages and unavailable accelerators, `--version`, `--print_config`,
`--help`, and the packaging metadata."""
import dataclasses
import gzip
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tomllib
import yaml
from _runs import TINY

import nasiam
from nasiam.cli import main
from nasiam.config import ConfigError, PretrainConfig, SearchConfig, load_config
from nasiam.data import DataNotFoundError, create_dataset

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()


def _idx_bytes(array: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def fake_mnist_transfer(monkeypatch):
    """torchvision's MNIST-family transfer replaced by one that writes tiny valid IDX files
    (as downloaded .gz and extracted); records where it was asked to put each file."""
    import torchvision.datasets.mnist as mnist

    calls = []

    def fake(url, download_root, filename=None, md5=None, **kwargs):
        calls.append((url, Path(download_root), filename))
        n = 40 if filename.startswith("train") else 8
        rng = np.random.default_rng(len(calls))
        array = rng.integers(0, 256, (n, 28, 28)) if "images" in filename else np.arange(n) % 10
        data = _idx_bytes(array)
        Path(download_root).mkdir(parents=True, exist_ok=True)
        (Path(download_root) / filename).write_bytes(gzip.compress(data))
        (Path(download_root) / filename[:-3]).write_bytes(data)

    monkeypatch.setattr(mnist, "download_and_extract_archive", fake)
    return calls


# -- 1. data set-up ------------------------------------------------------------------------
def test_download_fetches_fashion_mnist_with_torchvisions_downloader_into_data_root(tmp_path, fake_mnist_transfer):
    from nasiam.data.download import download_dataset

    root = tmp_path / "data"
    assert download_dataset("fashion_mnist", root) == root
    assert {call[1] for call in fake_mnist_transfer} == {root / "FashionMNIST" / "raw"}  # torchvision's layout
    assert sorted(call[2] for call in fake_mnist_transfer) == sorted(
        ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
         "t10k-labels-idx1-ubyte.gz"])
    assert len(create_dataset("fashion_mnist", root, "train")) == 40  # what nasiam reads back
    assert len(create_dataset("fashion_mnist", root, "test")) == 8
    fake_mnist_transfer.clear()
    download_dataset("fashion_mnist", root)  # already there: nothing fetched again
    assert fake_mnist_transfer == []


def test_the_download_option_fetches_before_the_data_is_read(tmp_path, fake_mnist_transfer):
    from nasiam.data import dataset_info
    from nasiam.runner.build import build_train_data

    cfg = load_config(SearchConfig, None, {"download": "true", "data_root": str(tmp_path), "batch_size": "8",
                                           "subset": "none", "num_workers": "0", "data_device": "workers"})
    data = build_train_data(cfg, dataset_info("fashion_mnist"), bilevel=True)
    assert fake_mnist_transfer and len(data.weight) + len(data.arch) == 40
    assert load_config(SearchConfig).download is False  # opt-in


def test_processes_of_one_run_download_one_at_a_time(tmp_path, fake_mnist_transfer):
    """The download folder's lock serialises the processes of a run, however they were started
    (SLURM sets no LOCAL_RANK): the second waits, then finds the files in place."""
    import fcntl
    import threading

    from nasiam.data.download import ensure_downloaded

    root = tmp_path / "data"
    root.mkdir()
    with open(root / ".nasiam-download.lock", "w") as other:   # another process is downloading
        fcntl.flock(other, fcntl.LOCK_EX)
        waiting = threading.Thread(target=ensure_downloaded, args=("fashion_mnist", root))
        waiting.start()
        waiting.join(timeout=0.5)
        assert waiting.is_alive() and fake_mnist_transfer == []
    waiting.join(timeout=30)
    assert not waiting.is_alive() and fake_mnist_transfer


@pytest.mark.parametrize("name,cls,layout", [("cifar10", "CIFAR10", "cifar-10-batches-py"),
                                             ("cifar100", "CIFAR100", "cifar-100-python"),
                                             ("stl10", "STL10", "stl10_binary")])
def test_download_uses_torchvisions_class_for_each_dataset(tmp_path, monkeypatch, name, cls, layout):
    import torchvision.datasets

    from nasiam.data.download import download_dataset

    calls = []
    monkeypatch.setattr(torchvision.datasets, cls, lambda root, download=False, **kw: calls.append((root, download)))
    download_dataset(name, tmp_path)
    assert calls == [(os.fspath(tmp_path), True)]
    monkeypatch.setenv("NASIAM_DATA", str(tmp_path / "env"))
    download_dataset(name)  # no --data_root: $NASIAM_DATA (else ./data)
    assert calls[-1] == (os.fspath(tmp_path / "env"), True)
    # torchvision extracts into <root>/<layout>, which is where nasiam's readers look
    import nasiam.data.datasets

    assert layout in Path(nasiam.data.datasets.__file__).read_text()


def test_missing_data_names_the_debian_package_and_the_download_option(tmp_path):
    assert "`--download`" in README
    with pytest.raises(DataNotFoundError) as info:
        create_dataset("fashion_mnist", tmp_path)
    assert "apt-get install dataset-fashion-mnist" in str(info.value) and "--download" in str(info.value)
    with pytest.raises(DataNotFoundError, match="--download"):
        create_dataset("cifar10", tmp_path)


def test_a_failed_download_exits_2_naming_both_ways(tmp_path, monkeypatch, capsys):
    from urllib.error import URLError

    import torchvision.datasets.mnist as mnist

    def offline(*args, **kwargs):
        raise URLError("no network")

    monkeypatch.setattr(mnist, "download_and_extract_archive", offline)
    assert main(["search", "--download", f"--data_root={tmp_path}", f"--out_dir={tmp_path}", "--run_name=r",
                 "--num_workers=0"]) == 2
    err = capsys.readouterr().err
    assert "--download could not fetch fashion_mnist" in err and "apt-get install dataset-fashion-mnist" in err


def test_download_refuses_datasets_torchvision_cannot_fetch():
    with pytest.raises(ConfigError, match="--download fetches"):
        load_config(SearchConfig, None, {"download": "true", "dataset": "imagenet"})


def _readme_bash_blocks(section):
    body = re.search(rf"^## {section}\n(.*?)(?=^## )", README, flags=re.S | re.M).group(1)
    return re.findall(r"```bash\n(.*?)\n```", body, flags=re.S)


def test_readme_apt_line_installs_pythons_venv_and_the_quick_starts_data(tmp_path):
    """The Install section's Debian/Ubuntu line, run with fake apt-get and sudo."""
    [apt_line] = [block for block in _readme_bash_blocks("Install") if "apt-get" in block]
    fake = tmp_path / "bin"
    fake.mkdir()
    log = tmp_path / "log"
    for name, body in (("apt-get", f'echo "apt-get $*" >> {log}'), ("sudo", f'echo sudo >> {log}; exec "$@"')):
        (fake / name).write_text(f"#!/bin/sh\n{body}\n")
        (fake / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}
    subprocess.run(["bash", "-c", apt_line], check=True, env=env, timeout=30)
    apt = [line for line in log.read_text().splitlines() if line.startswith("apt-get")]
    assert apt[0] == "apt-get update"
    assert "install" in apt[1] and {"dataset-fashion-mnist", "python3-venv"} <= set(apt[1].split())


def test_readme_quick_start_is_one_command_that_installs_and_searches_the_apt_data():
    [command] = _readme_bash_blocks("Quick start")
    assert "\n" not in command and command.startswith("python3 -m venv .venv && .venv/bin/pip install")
    args = command.split(".venv/bin/nasiam ")[1].split()
    assert args[0] == "search"
    overrides = {"framework": args[args.index("--framework") + 1]}
    cfg = load_config(SearchConfig, None, overrides, check_environment=False)
    assert cfg.dataset == "fashion_mnist"  # what dataset-fashion-mnist installs


def test_readme_test_command_is_what_ci_runs():
    readme = re.search(r"## Tests.*?```bash\n(.*?)\n```", README, flags=re.S).group(1).strip()
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.startswith("python3 -m venv")]
    assert ci == [readme] and "sweeps" not in readme


# -- 7. clean usage failures -----------------------------------------------------------------
@pytest.mark.parametrize("strategy", ["tpe", "random"])
def test_multi_trial_strategies_without_optuna_exit_2_naming_the_fix(monkeypatch, capsys, strategy):
    monkeypatch.setitem(sys.modules, "optuna", None)
    assert main(["search", f"--strategy={strategy}", "--print_config"]) == 2
    assert "pip install 'nasiam[optuna]'" in capsys.readouterr().err
    load_config(SearchConfig, None, {"strategy": "darts"})  # the default strategy needs no optuna


def test_sweep_without_optuna_exits_2_naming_the_fix(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "optuna", None)
    assert main(["sweep", "--config", str(ROOT / "recipes" / "sweeps" / "cpu_smoke.yaml")]) == 2
    assert "pip install 'nasiam[optuna]'" in capsys.readouterr().err


def test_wandb_option_without_wandb_exits_2_naming_the_fix(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "wandb", None)
    assert main(["pretrain", "--wandb", "--print_config"]) == 2
    assert "pip install 'nasiam[wandb]'" in capsys.readouterr().err


def test_export_of_a_run_needs_no_optional_package(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "wandb", None)
    recipe = tmp_path / "config.yaml"
    recipe.write_text("wandb: true\n")
    assert load_config(SearchConfig, recipe, check_environment=False).wandb


def test_a_gpu_request_without_cuda_exits_2_before_training(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main(["search", *TINY, "--accelerator=gpu", f"--out_dir={tmp_path}", "--run_name=r"]) == 2
    err = capsys.readouterr().err
    assert "--accelerator=cpu" in err and "--accelerator=auto" in err
    assert not (tmp_path / "r" / "checkpoints").exists()


@pytest.mark.parametrize("short,long", [("16", "16-mixed"), ("bf16", "bf16-mixed"), ("32", "32-true"),
                                        ("16-mixed", "16-mixed"), ("bf16-mixed", "bf16-mixed"), ("32-true", "32-true")])
def test_lightnings_precision_aliases_are_accepted(short, long):
    assert load_config(SearchConfig, None, {"precision": short}).precision == long
    assert load_config(PretrainConfig, None, {"precision": short}).precision == long


def test_version_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.strip() == f"nasiam {nasiam.__version__}"


@pytest.mark.parametrize("command,cls", [("search", SearchConfig), ("pretrain", PretrainConfig)])
def test_print_config_prints_the_resolved_config_and_runs_nothing(tmp_path, monkeypatch, capsys, command, cls):
    import nasiam.runner.pretrain
    import nasiam.runner.search

    def no_training(cfg):
        raise AssertionError("--print_config must not train")

    monkeypatch.setattr(nasiam.runner.search, "run_search", no_training)
    monkeypatch.setattr(nasiam.runner.pretrain, "run_pretrain", no_training)
    monkeypatch.chdir(tmp_path)
    recipe = tmp_path / "r.yaml"
    recipe.write_text("epochs: 20\nlr: 0.1\n")
    assert main([command, "--config", str(recipe), "--lr=0.2", "--print_config"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed == dataclasses.asdict(load_config(cls, recipe, {"lr": "0.2"}))
    assert (printed["epochs"], printed["lr"]) == (20, 0.2)
    assert not (tmp_path / "runs").exists()


def _option_help(command):
    from nasiam.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices[command]
    return {a.dest: a for a in sub._actions}, sub.format_help()


@pytest.mark.parametrize("command", ["search", "pretrain"])
def test_help_shows_each_default_once_and_choices_as_choices(command):
    actions, text = _option_help(command)
    for action in actions.values():
        assert (action.help or "").count("(default:") <= 1, action.dest
    for name in ("framework", "dataset", "optimizer", "precision", "accelerator", "data_device", "ema_schedule") + (
            ("strategy", "mode", "space", "below_noise") if command == "search" else ()):
        assert actions[name].metavar.startswith("{"), name
    assert "--framework {simsiam,simclr,mocov2,mocov3,moco}" in text
    assert not re.search(r"\(default:[^)]*\)\s*\(default:", text)  # e.g. "(default: the dataset's) (default: None)"


# -- 8. packaging ------------------------------------------------------------------------------
def test_packaging_metadata():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = meta["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert meta["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "nasiam._version.__version__"}  # a literal
    assert any(r.replace(" ", "").startswith("setuptools>=") and int(r.split(">=")[1].split(".")[0]) >= 77
               for r in meta["build-system"]["requires"])
    assert project["license"] == "MIT"
    assert (ROOT / "nasiam" / "py.typed").is_file() and "py.typed" in meta["tool"]["setuptools"]["package-data"]["nasiam"]
    names = [re.split(r"[<>=\[ ]", d)[0] for d in project["dependencies"]]
    assert "lightning-fabric" in names and "lightning" not in names
    assert not any("sweeps" in d for group in [project["dependencies"], *project["optional-dependencies"].values()]
                   for d in group)


def test_the_code_imports_lightning_fabric_only():
    """`lightning-fabric` installs `lightning_fabric`, not `lightning.*` nor `pytorch_lightning`;
    only the optional Trainer integration imports the user's own Lightning package."""
    pattern = re.compile(r"^\s*(from|import)\s+(lightning(\.|\s)|pytorch_lightning)", re.M)
    optional = {ROOT / "nasiam" / "integrations" / "lightning.py"}
    offenders = [str(p) for p in (ROOT / "nasiam").rglob("*.py") if p not in optional and pattern.search(p.read_text())]
    assert not offenders
