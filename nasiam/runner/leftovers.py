"""Whether a new run may start in a folder that is already there.

A run starts over only where its folder holds nothing but what a killed start of a run leaves
before its first checkpoints/last.ckpt: the lock file, inputs/ (its downloaded W&B artifacts,
which it reuses), the temporary file of a killed write of config.yaml (where the evidence says
a start wrote it, `_is_config_temporary`), and, once the run's
config.yaml is written (before the first step), logs/, wandb/, alphas.csv, checkpoints/ holding
at most epoch=1.ckpt (written just before the first last.ckpt) and the temporary files of killed
writes (and folders holding nothing else). A temporary's name alone does not make it nasiam's:
without the run's config.yaml, a `.notes.txt.0123abcd.nasiam.tmp` is a user's file (#33 probe 8,
E3: it was deleted when the run started); nor, alone, does config.yaml's (probe 9, F1).
Anything else is refused by name, touching nothing: an export (export.json), a finished run
whose checkpoints were deleted (summary.json), epoch checkpoints without last.ckpt, or files
nasiam did not write there, which a new run would write over or mix with (#33 probe 7, D1:
only checkpoints/last.ckpt was looked for).
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import NamedTuple

from nasiam._folders import is_run_config
from nasiam._io import TEMPORARY_SUFFIX, is_temporary_file
from nasiam.errors import shown
from nasiam.rundir import EXPORT_RECORD, SUMMARY_RECORD
from nasiam.runner.lock import LOCK_FILE

__all__ = ["Occupied", "occupied"]

# what a run writes after its config.yaml and before its first last.ckpt (nasiam.runner.loop)
_AFTER_CONFIG = ("logs", "wandb", "alphas.csv")
# W&B artifacts a run reads (--head/--init), downloaded before its config.yaml and reused by the
# same run started again (nasiam.runner.wandb_artifacts.download_run)
_INPUTS = "inputs"
_FIRST_EPOCH_FILE = "epoch=1.ckpt"
# the temporary of config.yaml's own atomic write (`atomic_write_bytes`): the first file a run
# writes after its lock file, ".config.yaml.<8 hex>.nasiam.tmp"
_CONFIG_TEMPORARY = ".config.yaml."
_CONFIG_TEMPORARY_LENGTH = len(_CONFIG_TEMPORARY) + 8 + len(TEMPORARY_SUFFIX)
_LISTED = 4   # names shown of what is in the way


class Occupied(NamedTuple):
    """What a folder holds that no new run may start in: `kind` ("export", "finished", "checkpoints"
    or "foreign"), `what` in words, and for "checkpoints" the newest epoch file to resume from."""
    kind: str
    what: str
    resume_from: Path | None = None


def occupied(run_dir: str | os.PathLike, *, lock_left_behind: bool = False) -> Occupied | None:
    """What `run_dir` holds that a new run must not start in, or None where one may: the folder
    is not there, is empty, or holds only what a killed start of a run leaves (module docstring).
    `lock_left_behind`: whether a killed run's lock file was there before the caller took the
    lock (`RunDirLock.stale_owner`), the evidence that config.yaml's temporary beside it is a
    killed start's; the caller's own lock file says nothing, so it is not read here."""
    run_dir = Path(run_dir)
    try:
        entries = {entry.name: entry for entry in os.scandir(run_dir)}
    except (FileNotFoundError, NotADirectoryError):
        return None
    if _is_file(entries.get(EXPORT_RECORD)):
        return Occupied("export", f"an export ({EXPORT_RECORD}: `nasiam export` wrote it)")
    if _is_file(entries.get(SUMMARY_RECORD)):
        return Occupied("finished", f"a finished run ({SUMMARY_RECORD}) whose checkpoints/last.ckpt is gone")
    started = _is_run_config(run_dir / "config.yaml", run_dir.name)
    strays = []
    for name in sorted(set(entries) - {LOCK_FILE}):
        entry = entries[name]
        if _holds_only_temporaries(entry, started) or name == _INPUTS and entry.is_dir(follow_symlinks=False):
            continue
        if not started and _is_config_temporary(entry, run_dir.name, lock_left_behind):
            continue
        if started and not entry.is_symlink() and (name == "config.yaml" or name in _AFTER_CONFIG):
            continue
        if started and name == "checkpoints" and entry.is_dir(follow_symlinks=False):
            epochs = sorted((e for e in os.scandir(entry.path) if not _holds_only_temporaries(e, started)),
                            key=lambda e: _epoch_number(e.name))
            if all(e.name == _FIRST_EPOCH_FILE and e.is_file(follow_symlinks=False) for e in epochs):
                continue
            if all(_epoch_number(e.name) >= 0 and e.is_file(follow_symlinks=False) for e in epochs):
                return Occupied("checkpoints", f"checkpoints of a run without its last.ckpt "
                                f"({_listed([e.name for e in epochs])})", Path(epochs[-1].path))
        strays.append(name + ("/" if entry.is_dir(follow_symlinks=False) else ""))
    if strays:
        return Occupied("foreign", f"files nasiam did not write for a run ({_listed(strays)})")
    return None


def _listed(names: list[str]) -> str:
    more = f" and {len(names) - _LISTED} more" if len(names) > _LISTED else ""
    return ", ".join(name if name.isprintable() and len(name) <= 60 else shown(name, 60)   # escaped if not plain
                     for name in names[:_LISTED]) + more


def _is_file(entry: os.DirEntry | None) -> bool:
    return entry is not None and entry.is_file(follow_symlinks=False)


def _epoch_number(name: str) -> int:
    number = name[len("epoch="):-len(".ckpt")] if name.startswith("epoch=") and name.endswith(".ckpt") else ""
    return int(number) if number.isdigit() else -1


def _holds_only_temporaries(entry: os.DirEntry, started: bool) -> bool:
    """A killed write's temporary file, or a folder (not a link) holding nothing else: a new run
    loses nothing there (and removes the temporaries when it starts). Before the run's config.yaml
    (`started` false) a run has written nothing but that file, whose temporary is judged apart
    (`_is_config_temporary`): no file is taken for the run's here (a folder holding no file at
    all is, where a new run loses nothing)."""
    if entry.is_symlink():
        return False
    if entry.is_file():
        return started and is_temporary_file(entry.name)
    if not entry.is_dir():
        return False
    for parent, folders, files in os.walk(entry.path, followlinks=False):
        if any(os.path.islink(os.path.join(parent, name)) for name in folders):   # links to folders: not ours
            return False
        for name in files:   # os.walk lists links to files (and dangling ones) among the files
            if not started or not is_temporary_file(name) or not stat.S_ISREG(os.lstat(os.path.join(parent, name)).st_mode):
                return False
    return True


def _is_config_temporary(entry: os.DirEntry, name: str, lock_left_behind: bool) -> bool:
    """`entry` is the temporary of config.yaml that a start of the run `name` wrote and was killed
    before renaming: named so, a plain file, and either beside the lock file a killed run left
    (a start writes its lock file first) and holding nothing or run options only (killed before
    or during its write, `_is_config_start`), or reading as this run's config.yaml (killed between the write and the rename). The name alone is anyone's: a
    user's file so named was deleted when the run started (#33 probe 9, F1), and so was one
    holding the user's text beside a killed run's lock (probe 11, H7)."""
    if len(entry.name) != _CONFIG_TEMPORARY_LENGTH or not entry.name.startswith(_CONFIG_TEMPORARY) or \
            not is_temporary_file(entry.name) or not entry.is_file(follow_symlinks=False):
        return False
    return lock_left_behind and _is_config_start(Path(entry.path)) or _is_run_config(Path(entry.path), name)


def _is_config_start(path: Path) -> bool:
    """`path` holds what a killed write of config.yaml leaves: nothing, or YAML naming run options
    only (a write cut short); a user's notes are neither (#33 probe 11, H7)."""
    import dataclasses

    import yaml

    from nasiam.config.schema import PretrainConfig, SearchConfig

    try:
        if path.stat().st_size > 1 << 20:
            return False
        text = path.read_text(encoding="utf-8")
        config = yaml.safe_load(text) if text.strip() else {}
    except (OSError, ValueError, yaml.YAMLError, RecursionError):
        return False
    options = {field.name for cls in (SearchConfig, PretrainConfig) for field in dataclasses.fields(cls)}
    return isinstance(config, dict) and all(isinstance(key, str) and key in options for key in config)


def _is_run_config(path: Path, name: str) -> bool:
    """`path` is a config.yaml a run named `name` wrote."""
    config = is_run_config(path)
    return config is not None and config.get("run_name") in (None, name)
