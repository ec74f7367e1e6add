"""Which directory a run writes to, and the lock that makes it the only run writing there.

`claim_run_dir` resolves --run_name/--resume/--out_dir to a directory (and the checkpoint to
continue from) and takes its lock on rank 0 before deciding anything from its contents: a run
still going may not have written its first checkpoint yet, and must be neither resumed nor
started over meanwhile. Every rank learns the outcome, so none is left waiting; on an error
after the lock is taken, it is released first.
"""
from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Callable, NamedTuple

from nasiam.config import ConfigError, RunConfig, check_output_path, nearest_folder
from nasiam.errors import CheckpointError, RunDirLockedError, shell_argument, shown, shown_path
from nasiam.runner import checkpoint as ckpt
from nasiam.runner.leftovers import occupied
from nasiam.runner.lock import LOCK_FILE, RunDirLock, read_owner, unusable_lock_file

__all__ = ["ClaimedRunDir", "claim_run_dir", "start_refusal"]

_RESUME_LAST = ("true", "1", "yes", "last")


class ClaimedRunDir(NamedTuple):
    run_dir: Path
    resume_from: Path | None   # the checkpoint to continue from, or None for a new run
    lock: RunDirLock | None    # rank 0's; None on the other ranks. Release it when the run ends


def claim_run_dir(cfg: RunConfig, command: str, framework: str, fabric, say: Callable[[str], None]) -> ClaimedRunDir:
    """The run directory for `cfg`, locked (see the module's docstring)."""
    resume = cfg.resume
    if resume is not None and resume.lower() == "auto":
        # a requeued cluster job re-runs its own command: continue if there is a checkpoint
        if not cfg.run_name:
            raise CheckpointError("--resume=auto needs --run_name, so that a requeued job finds its run again")
        has_checkpoint = (Path(cfg.out_dir) / cfg.run_name / "checkpoints" / ckpt.LAST).is_file()
        resume = "true" if fabric.broadcast(has_checkpoint) else None
    if resume is not None and resume.lower() not in _RESUME_LAST:
        target = Path(resume)
        run_dir = target
        if target.is_file():
            run_dir = target.parent.parent if target.parent.name == "checkpoints" else target.parent
        if not (run_dir / "config.yaml").is_file():   # lock nothing that is not a nasiam run directory
            ckpt.find_checkpoint(target)  # raises (touching nothing) when there is none
            raise CheckpointError(f"--resume={resume}: {run_dir} is not a nasiam run directory (no config.yaml); "
                                  "pass a run directory or a checkpoint in its checkpoints/ folder")
        _check_one_folder_named(cfg, resume, run_dir)
        return _resumed(run_dir, target, command, fabric, say)
    if resume is not None:
        if not cfg.run_name:
            raise CheckpointError("--resume needs the run to continue: pass --run_name NAME (as when it started) "
                                  "or --resume=RUN_DIR")
        run_dir = Path(cfg.out_dir) / cfg.run_name
        if not run_dir.exists():
            ckpt.find_checkpoint(run_dir)  # raises: no such run directory
        return _resumed(run_dir, run_dir, command, fabric, say)
    name = cfg.run_name or f"{command}-{framework}-{datetime.now():%Y%m%d-%H%M%S}"
    name = fabric.broadcast(name)  # every rank writes to rank 0's directory
    run_dir = Path(cfg.out_dir) / name
    check_output_path("--out_dir", cfg.out_dir)   # never inside another run or export: before the lock creates it
    lock = _lock(_checked(run_dir), command, fabric, say)
    try:
        if (run_dir / "checkpoints" / ckpt.LAST).exists():
            raise CheckpointError(f"{shown_path(run_dir)} already holds a run; continue it with --resume --run_name "
                                  f"{shell_argument(name)}, or choose another --run_name")
        # rank 0 looks (it holds the lock: nothing writes there meanwhile) and every rank learns it
        refusal = fabric.broadcast(_not_startable(run_dir, lock is not None and lock.stale_owner is not None)
                                   if fabric.is_global_zero else None)
        if refusal:
            raise CheckpointError(refusal)
    except BaseException:
        _release(lock)
        raise
    return ClaimedRunDir(run_dir, None, lock)


def _check_one_folder_named(cfg: RunConfig, resume: str, run_dir: Path) -> None:
    """--resume=RUN_DIR names the folder to continue: a --run_name (or an --out_dir) naming another
    one was ignored, and the finished RUN_DIR continued in place with the other name written into
    its config.yaml (the fourteenth probe of #33, K7). Without --run_name only an --out_dir other
    than the default can be told from the default, so only such a one is compared."""
    options = [f"--run_name {shell_argument(cfg.run_name)}"] if cfg.run_name else []
    if cfg.out_dir != _DEFAULT_OUT_DIR:
        options.append(f"--out_dir {shell_argument(cfg.out_dir)}")
    if not options:
        return
    # --out_dir alone names the folder the run directory is in
    named, compared = (Path(cfg.out_dir) / cfg.run_name, run_dir) if cfg.run_name else (Path(cfg.out_dir), run_dir.parent)
    if os.path.realpath(named) == os.path.realpath(compared):
        return
    dropped = " and ".join(option.split(" ")[0] for option in options)
    raise ConfigError(f"--resume={resume} continues {shown_path(run_dir)}, but {' '.join(options)} names "
                      f"{shown_path(named)}: drop {dropped} to continue {shown_path(run_dir)}, or start {shown_path(named)} "
                      f"as a new run without --resume (--init EXPORT to begin it from an export)")


_DEFAULT_OUT_DIR = RunConfig.out_dir   # the dataclass field's default


def _resumed(run_dir: Path, target: Path, command: str, fabric, say: Callable[[str], None]) -> ClaimedRunDir:
    """`run_dir` locked, then its checkpoint (`target`: the folder or a checkpoint in it) found:
    the lock first, so that a live run between its epoch file and last.ckpt is named as in use,
    not as a run that "ended before its first epoch"."""
    lock = _lock(_checked(run_dir), command, fabric, say)
    try:
        return ClaimedRunDir(run_dir, ckpt.find_checkpoint(target), lock)
    except BaseException:
        _release(lock)
        raise


def start_refusal(run_dir: Path) -> str | None:
    """Why a run could not start in `run_dir`, or resume there, as `claim_run_dir` would find it,
    seen without taking the lock or writing anything: a file in the folder's place, a `.lock`
    that is not a nasiam lock file, or, with no checkpoints/last.ckpt to continue, what a new run
    would write over. None where it could. `nasiam compare` asks this of each run's folder before
    it starts any: a refusal there was read as its options', stopping every row (#33 probe 11, H2)."""
    try:
        _checked(run_dir)
    except ConfigError as e:
        return str(e)
    lock_file = run_dir / LOCK_FILE
    refusal = unusable_lock_file(lock_file)
    if refusal or (run_dir / "checkpoints" / ckpt.LAST).is_file():
        return refusal
    return _not_startable(run_dir, read_owner(lock_file) is not None)


def _not_startable(run_dir: Path, lock_left_behind: bool) -> str | None:
    """Why a new run may not start in `run_dir`, with the fix; None where it may (`occupied`).
    `lock_left_behind`: whether a killed run left its lock file there (`RunDirLock.stale_owner`)."""
    found = occupied(run_dir, lock_left_behind=lock_left_behind)
    if found is None:
        return None
    fix = "choose another --run_name or --out_dir"
    if found.resume_from is not None:
        fix = f"continue it with --resume={shell_argument(str(found.resume_from))}, or {fix}"
    elif found.kind == "foreign":
        fix = f"{fix}, or move those files away"
    return f"{shown_path(run_dir)} holds {found.what}; a new run there would write over it. Nothing was written: {fix}"


# room for the longest path a run writes inside its directory (TensorBoard's
# logs/tensorboard/events.out.tfevents.<time>.<host>.<pid>.<n>, with a long host name)
_LONGEST_INSIDE = 160


def _checked(run_dir: Path) -> Path:
    """`run_dir`, refused now if a run could not write in it (a file on the way, paths too long),
    rather than at its first checkpoint after an epoch of training."""
    existing = nearest_folder("--out_dir", run_dir)
    try:
        path_max = os.pathconf(existing, "PC_PATH_MAX")
    except (OSError, ValueError):
        path_max = 4096
    if len(os.fsencode(run_dir)) + _LONGEST_INSIDE >= path_max:
        raise ConfigError(f"the run directory {shown(str(run_dir), 80)} is {len(os.fsencode(run_dir)):,} bytes "
                          f"long: the files a run writes in it would pass this file system's limit of {path_max:,}; "
                          "shorten --out_dir or --run_name")
    return run_dir


def _lock(run_dir: Path, command: str, fabric, say: Callable[[str], None]) -> RunDirLock | None:
    """Rank 0 takes the directory's lock for the whole job; every rank learns whether it got it."""
    lock, refused = None, None
    if fabric.is_global_zero:
        try:
            lock = RunDirLock(run_dir, command).acquire()
        except RunDirLockedError as e:
            refused = str(e)
    try:
        if lock is not None:
            stale = lock.describe_stale()
            if stale:
                say(stale)
        refused = fabric.broadcast(refused)   # raises if another rank died meanwhile, or on Ctrl-C
    except BaseException:
        _release(lock)
        raise
    if refused:
        raise RunDirLockedError(refused)
    return lock


def _release(lock: RunDirLock | None) -> None:
    if lock is not None:
        lock.release()
