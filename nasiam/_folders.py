"""What marks a folder as a nasiam run's or a nasiam export's, read from its files alone (no
torch): the output-path check (`nasiam.config.check_output_path`) keeps every command from
writing inside one, and a new run starts only where none is (`nasiam.runner.leftovers`).

    a run      config.yaml holding a run's configuration, and summary.json (finished) or
               checkpoints/ (under way, or stopped)
    an export  export.json of format nasiam.export (written last by `nasiam export`)

A user's config.yaml (a recipe, another tool's) lacks the keys every run's holds; a run killed
before its first checkpoint has no files worth keeping, and is not counted.
"""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

__all__ = ["is_run_config", "is_small_plain_file", "nasiam_folder", "nasiam_folder_around"]

# keys every run's config.yaml holds (dataclasses.asdict of RunConfig) and a recipe rarely all does
_RUN_CONFIG_KEYS = ("framework", "dataset", "backbone", "epochs", "seed", "out_dir", "run_name", "resume",
                    "keep_checkpoints")
_MAX_RECORD_BYTES = 1 << 20


def is_small_plain_file(path: Path) -> bool:
    """Whether `path` is a plain file (no link, FIFO or device) of at most 1 MiB: a record read
    without following a link or blocking on a FIFO."""
    try:
        info = path.lstat()
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_size <= _MAX_RECORD_BYTES


def _read_small_file(path: Path) -> str | None:
    """The text of `path` if it is a small plain file (`is_small_plain_file`), else None."""
    if not is_small_plain_file(path):
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, ValueError):
        return None


def is_run_config(path: str | os.PathLike) -> dict | None:
    """The configuration in `path` if it is a config.yaml a nasiam run wrote, else None."""
    import yaml

    text = _read_small_file(Path(path))
    if text is None:
        return None
    try:
        config = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError, RecursionError):
        return None
    return config if isinstance(config, dict) and all(key in config for key in _RUN_CONFIG_KEYS) else None


def nasiam_folder(folder: str | os.PathLike) -> str | None:
    """"a nasiam run" or "a nasiam export" when `folder` is one (module docstring), else None."""
    folder = Path(folder)
    text = _read_small_file(folder / "export.json")
    if text is not None:
        try:
            record = json.loads(text)
        except (ValueError, RecursionError):
            record = None
        if isinstance(record, dict) and record.get("format") == "nasiam.export":
            return "a nasiam export"
    if is_run_config(folder / "config.yaml") is not None and \
            ((folder / "summary.json").is_file() or (folder / "checkpoints").is_dir()):
        return "a nasiam run"
    return None


def nasiam_folder_around(path: str | os.PathLike) -> tuple[Path, str] | None:
    """The nearest folder that is `path` or holds it (links resolved) and is a nasiam run or
    export, and which (`nasiam_folder`); None when there is none."""
    real = Path(os.path.realpath(path))
    for folder in (real, *real.parents):
        if folder.is_dir():
            what = nasiam_folder(folder)
            if what:
                return folder, what
    return None
