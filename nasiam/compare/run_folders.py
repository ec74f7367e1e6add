"""A comparison's run folders: whether a run has finished, and whether the finished run in a
folder is the run the comparison plans there (its summary.json one nasiam could have written and
compare.json recorded; its config.yaml the job's seed, options and head; its files those it
finished with). A folder that is not is named with its fix, never reported or trained over."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

from nasiam.compare.plan import FORBIDDEN_COMMON, Job, search_common
from nasiam.config import (
    HOW_IT_RAN,
    ConfigError,
    PretrainConfig,
    SearchConfig,
    field_types,
    parse_value,
    read_yaml_file,
)
from nasiam.errors import CheckpointError, shown, shown_path
from nasiam.rundir import check_run_files

__all__ = ["run_finished", "collapsed", "read_summary", "summary_sha256", "check_run", "pending_jobs", "MOVE_OUT"]

# the fix of a run folder that is not its job's run and cannot become it by an option
MOVE_OUT = ("move the folder out of the comparison (it is left as it is) and run the same command again to train "
            "this one afresh, or choose another --out")


def run_finished(runs: Path, name: str, weights: bool = True) -> bool:
    """A finished run. With `weights`, a search also needs the weights its one-stage (+init)
    rows continue from: a summary and genotype copied without them, e.g. from an archive of
    the small files, are enough for rows that train the searched head afresh, not for those."""
    run = runs / name
    if not (run / "summary.json").is_file():
        return False
    if weights and ((run / "genotype.json").is_file() or (run / "genotype.rejected.json").is_file()):
        return (run / "backbone.safetensors").is_file() or (run / "genotype.rejected.json").is_file()
    return True


def collapsed(runs: Path, name: str) -> bool:
    """A search that finished without a head: its embeddings collapsed and its genotype was
    refused (genotype.rejected.json). Running it again gives the same collapse."""
    run = runs / name
    return (run / "genotype.rejected.json").is_file() and not (run / "genotype.json").is_file()


MAX_SUMMARY_BYTES = 1 << 20
# what the report reads from a summary, and the values a run can write there
_PERCENT = ("knn_top1", "linear_top1", "knn20_top1", "knn200_top1")
_BOUNDED = {"rankme": 1e7, "train_seconds": 1e9, "eval_seconds": 1e9}   # a rank of the features; 30 years
_MAPPINGS = ("heads", "genotypes", "environment", "selection")


# the options a comparison sets for all its runs: a run folder's config.yaml must agree on each
COMPARE_OPTIONS = tuple(f.name for f in dataclasses.fields(PretrainConfig)
                        if f.name not in FORBIDDEN_COMMON and f.name not in HOW_IT_RAN)


def _defaults(config_class) -> dict:
    return {f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
            for f in dataclasses.fields(config_class)
            if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING}


def _damaged(path: Path, problem: str) -> ConfigError:
    return ConfigError(f"{path} (read) is damaged: {problem}. Move its run folder out of the comparison (it is "
                       "left as it is) and run the same command again to train that run afresh")


def _kind(path: Path) -> str:
    if path.is_symlink():
        return f"a symbolic link to {shown_path(os.readlink(path))}"
    return "a folder" if path.is_dir() else "a FIFO, socket or device"


def _unprintable(value, depth: int = 0) -> str | None:
    """The first string in `value` (a mapping's keys too) with a character a terminal would act
    on (an escape sequence, a right-to-left override), or None."""
    if isinstance(value, str):
        return None if value.isprintable() else value
    items = [*value, *value.values()] if isinstance(value, dict) else value if isinstance(value, list) else []
    for item in items if depth < 16 else []:
        found = _unprintable(item, depth + 1)
        if found is not None:
            return found
    return None


def read_summary(run: Path) -> dict | None:
    """A run's summary.json, None when it has none (not finished); a file nasiam could not
    have written (not a JSON object, a score outside 0-100, NaN, 1e308 seconds, a string where
    a table is read) is a `ConfigError` naming it: reported as is, it would become a row."""
    path = run / "summary.json"
    if not path.is_file():
        if os.path.lexists(path):   # a folder, a FIFO, a dangling link: the run would train, then fail to write it
            raise _damaged(path, f"it is {_kind(path)}, where a finished run has a file")
        return None
    if path.stat().st_size > MAX_SUMMARY_BYTES:
        raise _damaged(path, f"over {MAX_SUMMARY_BYTES} bytes")
    try:
        summary = json.loads(path.read_bytes().decode("utf-8"))
    except (ValueError, RecursionError) as e:   # not UTF-8, not JSON, a 5,000-digit integer, nested too deeply
        raise _damaged(path, f"not JSON ({type(e).__name__})") from None
    if not isinstance(summary, dict):
        raise _damaged(path, f"it holds a JSON {type(summary).__name__}, not a run summary (an object)")
    for key, limit in {**dict.fromkeys(_PERCENT, 100.0), **_BOUNDED}.items():
        value = summary.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not 0 <= value <= limit):   # (NaN fails both comparisons)
            raise _damaged(path, f"{key} is {str(value)[:40]!r}, not a number between 0 and {limit:g}")
    for key in _MAPPINGS:
        if summary.get(key) is not None and not isinstance(summary[key], dict):
            raise _damaged(path, f"{key} is a {type(summary[key]).__name__}, not an object")
        # the report prints these strings (and writes them to results.md): nasiam writes none a
        # terminal would act on, and one that is there was put there (the sixth probe of #33)
        text = _unprintable(summary.get(key))
        if text is not None:
            raise _damaged(path, f"{key} holds {shown(text)}, a string with characters a terminal would act on")
    if summary.get("command") not in (None, "search", "pretrain"):
        raise _damaged(path, f"command is {str(summary['command'])[:40]!r}, not search or pretrain")
    return summary


def _located(value, then: Path, now: Path) -> str:
    """A path option relative to the folder the run was trained in (`then`) or is planned in
    (`now`), so that an archive restored elsewhere still matches; any other value as it is."""
    text = str(value)
    for root in (then, now):
        try:
            return Path(text).relative_to(root).as_posix()
        except ValueError:
            continue
    return text


def summary_sha256(run: Path) -> str:
    """The sha256 of a run's summary.json, as compare.json records it when the run finishes."""
    return hashlib.sha256((run / "summary.json").read_bytes()).hexdigest()


def check_run(job: Job, runs: Path, recorded_summary: str | None = None) -> str | None:
    """Why the finished run in runs/NAME is not `job`'s run, or None (it is, or it has not
    finished). Its config.yaml must hold the job's seed, name, options and head: a run copied in
    from another seed or trained under other options is never reported as this one. With
    `recorded_summary`, the sha256 compare.json recorded of its summary.json when the run
    finished, the summary must still be that one."""
    run = runs / job.name
    summary = read_summary(run)
    if summary is None:
        return None
    # a summary cannot vouch for itself (its "files" lists the other files' sha256): one edited
    # after the run finished, a forged score, was reported as is (the probes of #33)
    if recorded_summary is not None and summary_sha256(run) != recorded_summary:
        return (f"{run / 'summary.json'} (read) is not the summary this comparison recorded when {job.name} finished "
                f"(sha256 {summary_sha256(run)[:12]}, recorded in compare.json {str(recorded_summary)[:12]}): it was "
                f"edited or replaced since, so its scores are not the run's. Restore it, or {MOVE_OUT}")
    if summary.get("command") not in (None, job.command):
        return (f"{run} holds a `nasiam {summary['command']}` run; this comparison plans a `nasiam {job.command}` "
                f"there: {MOVE_OUT}")
    if not (run / "config.yaml").is_file():
        return f"{run} has a summary.json but no config.yaml, so nothing says how it was trained: {MOVE_OUT}"
    config = read_yaml_file(run / "config.yaml", "run configuration")
    if not isinstance(config, dict):
        raise _damaged(run / "config.yaml", "not a mapping of options")
    config_class = SearchConfig if job.command == "search" else PretrainConfig
    types = field_types(config_class)
    then, now = Path(str(config.get("out_dir"))).parent, runs.parent
    expected = dict(job.settings)
    if job.head is not None:
        expected["head"] = job.head()
    differences = {}
    # an option of the comparison's own that this call leaves out is its default, and the run must
    # have had that too: with compare.json lost, a comparison begun with --lr 0.07 and repeated
    # without it reported the 0.07 runs as default ones and rewrote compare.json to say so (the
    # sixth probe of #33). Only the options `nasiam compare` passes to this run are asked for (a
    # search's own, e.g. --space, and its budget are the search spec's, whose defaults may have
    # changed since an archive was trained), and not those its config.yaml lacks (an older nasiam).
    shared = set(COMPARE_OPTIONS) if job.command == "pretrain" else set(search_common(dict.fromkeys(COMPARE_OPTIONS)))
    for key, default in _defaults(config_class).items():
        if key in expected or key not in shared or key not in config:
            continue
        try:
            same = parse_value(key, config[key], types[key]) == default
        except ConfigError:
            same = False
        if not same:
            differences[key] = f"--{key}={str(config[key])[:80]} (this comparison: not set, so its default {default})"
    for key, value in expected.items():
        if key == "out_dir":
            continue   # where the folder is, not how the run was trained (an archive moves)
        if key not in config:
            differences[key] = f"no --{key} (this comparison: {value})"
        elif key in ("head", "init"):
            if key == "head" and job.head_sha256 is not None and summary.get("head_sha256") == job.head_sha256:
                continue   # a --heads PATH row's file, by its content: g/run, ./g/run/genotype.json, /abs/g/run
            if _located(config[key], then, now) != _located(value, now, now):
                differences[key] = f"--{key}={str(config[key])[:200]} (this comparison: {value})"
        else:
            try:
                same = parse_value(key, config[key], types[key]) == parse_value(key, value, types[key])
            except ConfigError:
                same = False
            if not same:
                differences[key] = f"--{key}={str(config[key])[:80]} (this comparison: {value})"
    if differences:
        return (f"{run / 'config.yaml'} (read) says it was trained with " + "; ".join(differences.values())
                + f": {_difference_fix(differences, config)}")
    recorded = summary.get("head_sha256")
    # config.yaml names the head file, not its content: an edited file has the same path. An
    # archived run whose summary.json has no head_sha256 is trusted, so archived comparisons
    # still report.
    if job.head_sha256 is not None and "head_sha256" in summary and recorded != job.head_sha256:
        trained = f"sha256 {recorded[:12]}" if isinstance(recorded, str) else f"an unreadable record ({recorded!r:.40})"
        return (f"{run / 'summary.json'} (read) says it trained {config.get('head')} as {trained}; this comparison "
                f"trains that file as sha256 {job.head_sha256[:12]}. Restore the file it trained, or move the "
                "folder out of the comparison to train it afresh, or compare the new head under another --out")
    try:   # and its files are those it finished with (summary.json's sha256 of each)
        check_run_files(run, "", "Restore the files, or move the folder out of the comparison to train it afresh")
    except CheckpointError as e:
        return str(e)
    return None


def _difference_fix(differences: dict[str, str], config: dict) -> str:
    """What makes a run trained under other options count, or else go: options the user sets
    can be given as the run had them; a seed, run name or head the comparison sets (a run copied
    in from another seed or comparison) cannot, so that folder has to move."""
    if any(key in FORBIDDEN_COMMON or key not in config for key in differences):
        return MOVE_OUT
    options = " ".join(f"--{key}={str(config[key])[:80]}" for key in differences)
    return (f"to report it, run this comparison with the options it was trained with ({options}); else "
            f"{MOVE_OUT}")


def pending_jobs(jobs: list[Job], runs: Path) -> tuple[list[Job], list[str]]:
    """(the jobs to run, the names of those done already)."""
    pending, skipped = [], []
    for job in jobs:
        dependents = [j for j in jobs if job.name in j.after]
        summarised = (runs / job.name / "summary.json").is_file()
        if run_finished(runs, job.name, weights=any(j.needs_weights for j in dependents)) or (
                summarised and dependents and all(run_finished(runs, j.name) for j in dependents)):
            skipped.append(job.name)   # (a search whose rows are all done needs no weights)
        else:
            pending.append(job)
    return pending, skipped
