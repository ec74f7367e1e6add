"""Runs a comparison's jobs as `nasiam` processes, several at once, resumably.

A job whose run directory holds a summary.json is done and skipped (`check_run` has made sure
it is this job's run); one that holds a checkpoint continues with --resume; the rest start
afresh. Each process writes its output to logs/NAME.log. A job that fails leaves the jobs that
need it undone (a search that collapsed, exit 3, leaves no head for its rows: they are failed
for that seed, now and on every later call, without being started) and the others going; so
does a job refused at its start (a --heads PATH file edited since the comparison pinned it) and
a finished run that is not the one planned (it read the file after such an edit: failed, not
reported). A run refused (exit 2) on what it alone is given (its row's options or --heads file,
its search's head: `Job.own_input`) fails that row, whose other runs with that input are not
started, and the other rows go on; one refused on the comparison's common options alone stops
everything, since the same options would fail every run (unless a run of those options has
finished in this call, or it resumed a checkpoint of its own: then the refusal is that run's).
A run whose folder it would refuse (a FIFO `.lock`, a user's files there: `start_refusal`) is
not started, each looked at before any run starts; one that refuses a folder changed meanwhile
fails alone too.

SIGTERM, Ctrl-C and SIGHUP (unless under `nohup`) stop a comparison the way they stop one run:
the runs in progress get SIGTERM, checkpoint at their next step boundary and exit, and only then
does `nasiam compare` exit; the same command continues them. (Python's default SIGTERM would end
the driver at once and leave its runs training, orphaned.) Each run has a session of its own,
so a terminal's Ctrl-C reaches the driver alone: a run that got it too would take the driver's
SIGTERM for a second signal and stop without its checkpoint. A driver killed outright (SIGKILL)
takes its runs with it on Linux (they get SIGTERM: `nasiam.compare.launch`); a run found still
training from such a driver is named and left to finish, not started a second time.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from nasiam.compare.launch import UnusableLogError, open_log, start_run, still_running
from nasiam.compare.plan import FORBIDDEN_COMMON, Job, changed_head, search_common
from nasiam.config import (
    HOW_IT_RAN,
    ConfigError,
    PretrainConfig,
    SearchConfig,
    field_types,
    parse_value,
    read_yaml_file,
)
from nasiam.errors import CheckpointError, RunInterrupted, shown, shown_path
from nasiam.rundir import check_run_files
from nasiam.runner.claim import start_refusal
from nasiam.runner.stop import StopSignals

__all__ = ["run_jobs", "run_finished", "check_run", "read_summary", "summary_sha256", "collapsed", "JobFailure",
           "ExecutionReport"]

EXIT_USAGE = 2
# the fix of a run folder that is not its job's run and cannot become it by an option
MOVE_OUT = ("move the folder out of the comparison (it is left as it is) and run the same command again to train "
            "this one afresh, or choose another --out")


@dataclass
class JobFailure:
    name: str
    returncode: int | None      # None: not started (a job it needs failed, its head file changed)
    log: str
    last_lines: str = ""        # the log's last lines, or why it was not started or not counted


@dataclass
class ExecutionReport:
    finished: list[str] = field(default_factory=list)      # done in this invocation
    skipped: list[str] = field(default_factory=list)       # already done before
    failures: list[JobFailure] = field(default_factory=list)


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


def _tail(path: Path, lines: int = 8) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _launch(job: Job, runs: Path, logs: Path, env: dict[str, str]) -> tuple[subprocess.Popen, Path, bool]:
    """Start `job` as a `nasiam` process writing to logs/NAME.log, resumed when it left a checkpoint."""
    options = job.options()
    resuming = (runs / job.name / "checkpoints" / "last.ckpt").is_file()
    if resuming:
        options.append("--resume")
    log = logs / f"{job.name}.log"
    with open(open_log(log), "a") as handle:   # a plain file only: UnusableLogError names anything else
        handle.write("$ nasiam " + " ".join([job.command, *options]) + "\n")
        handle.flush()
        process = start_run([sys.executable, "-m", "nasiam", job.command, *options], handle, env)
    return process, log, resuming


def _own_refusal(job: Job, resumed: bool, refused_inputs: dict[str, str]) -> str:
    """What a refusal (exit 2) of a run that is not down to the common options is put down to,
    with its fix; the runs given the same `own_input` are then not started."""
    fix = "the other runs go on. Fix that and run the same command again"
    if resumed:   # its own checkpoint (a damaged one is refused with exit 2), whatever else it is given
        given = f", or {job.own_input}" if job.own_input else ""
        return (f"it refused what it alone was given: the checkpoint it resumed or its run folder{given} (its log "
                f"says which); {fix}")
    if job.own_input:
        refused_inputs.setdefault(job.own_input, job.name)
        return (f"it refused {job.own_input} (its log says what), not the options every run shares: that row "
                f"fails; {fix}")
    return (f"it refused what it alone was given, its run folder or data (its log says which): a run of the same "
            f"common options finished in this call; {fix}")


def _unusable_folder(run: Path) -> str | None:
    """Why the run could not use its folder `run` (`start_refusal`: its `.lock` a FIFO, a user's
    files there), with the fix, or None."""
    refusal = start_refusal(run)
    return refusal and (f"its run folder cannot be used: {refusal}. That run fails, the other runs go on; move "
                        "what is named out of the way and run the same command again")


def _refuse_unusable_folders(pending: list[Job], runs: Path, refuse: Callable[[Job, str], None]) -> None:
    """Refuse, before any run starts, the jobs whose run folders their runs would refuse: such a
    run exits 2, as on bad options, and was read as its options' fault, stopping every row (#33
    probe 11, H2). A folder a live process holds is left to `still_running`, at its launch."""
    for job in list(pending):
        why = None if still_running(runs / job.name) else _unusable_folder(runs / job.name)
        if why:
            refuse(job, why)


class _Stopped(BaseException):
    """A BaseException, as KeyboardInterrupt is, so that no `except Exception` swallows it."""


class _DriverStop(StopSignals):
    """A run's stop handlers, acting at once: the driver has no step to finish, and its runs
    should get their SIGTERM now, not at the next poll."""

    def _handle(self, signum, frame) -> None:
        self.signum = signum
        raise _Stopped


def _driver_stop_signals() -> tuple[int, ...]:
    """SIGTERM; SIGINT and SIGHUP unless ignored (`cmd &`, `nohup`: their callers asked for that)."""
    optional = (signal.SIGINT, getattr(signal, "SIGHUP", None))
    return (signal.SIGTERM, *(s for s in optional if s is not None and signal.getsignal(s) != signal.SIG_IGN))


def run_jobs(jobs: list[Job], runs: Path, logs: Path, max_jobs: int = 1, threads: int | None = None,
             say: Callable[[str], None] = print, poll_seconds: float = 0.5,
             on_finished: Callable[[str], None] | None = None) -> ExecutionReport:
    """Run `jobs` (in order, respecting `after`), at most `max_jobs` at a time; each
    process gets `threads` CPU threads (default: the cores divided among the jobs).
    `on_finished(name)` is called for each run that finished as planned (compare.json records
    its summary's sha256)."""
    logs.mkdir(parents=True, exist_ok=True)
    report = ExecutionReport()
    threads = threads or max(1, (os.cpu_count() or 1) // max_jobs)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    pending, report.skipped = pending_jobs(jobs, runs)
    failed: set[str] = set()
    refused_inputs: dict[str, str] = {}   # a run's own input (`Job.own_input`) -> the run that refused it
    common_work = False                   # a run of the common options alone finished in this call
    running: dict[str, tuple[subprocess.Popen, Job, Path, float, bool]] = {}
    total = len(pending)
    stop = _DriverStop(_driver_stop_signals()).install()

    def refuse(job: Job, why: str) -> None:
        pending.remove(job)
        failed.add(job.name)
        report.failures.append(JobFailure(job.name, None, "", f"not run: {why}"))
        say(f"not run: {job.name}, since {why}")

    try:
        _refuse_unusable_folders(pending, runs, refuse)
        while pending or running:
            for job in list(pending):
                if len(running) >= max_jobs:
                    break
                blocked = [d for d in job.after if d in failed or collapsed(runs, d)]
                if blocked:
                    refuse(job, " and ".join(f"{d} collapsed (its genotype was refused: genotype.rejected.json)"
                                             if collapsed(runs, d) else f"{d} failed" for d in blocked))
                    continue
                if not all(run_finished(runs, d, job.needs_weights) for d in job.after):
                    continue  # its search is still running
                changed = changed_head(job)
                if changed:
                    refuse(job, changed)
                    continue
                if job.own_input in refused_inputs:   # it would be refused as that run was
                    refuse(job, f"{refused_inputs[job.own_input]} was refused (exit 2) on {job.own_input}, which this "
                                "run is given too: fix that (its log says what was refused)")
                    continue
                # an earlier driver's run, still training (that driver was killed): its lock
                # would make this one exit 2, read below as an option error of every run
                busy = still_running(runs / job.name)
                if busy:
                    refuse(job, busy)
                    continue
                try:
                    process, log, resuming = _launch(job, runs, logs, env)
                except UnusableLogError as e:   # a link or FIFO planted at logs/NAME.log
                    refuse(job, str(e))
                    continue
                pending.remove(job)
                running[job.name] = (process, job, log, time.perf_counter(), resuming)
                done_so_far = len(report.finished) + len(report.failures)
                say(f"[{done_so_far + len(running)}/{total}] started {job.command} {job.name}"
                    + (" (resuming)" if resuming else ""))
            for name, (process, job, log, start, resumed) in list(running.items()):
                code = process.poll()
                if code is None:
                    continue
                del running[name]
                minutes = (time.perf_counter() - start) / 60
                finished = code == 0 and run_finished(runs, name)
                # what it trained, checked as a rerun would: a --heads PATH file edited after the
                # driver's check, before the run read it, trained another head. Failed, and not
                # reported (the report leaves out failed runs); its folder is left as it is
                problem = check_run(job, runs) if finished else None
                if finished and not problem:
                    common_work = common_work or job.own_input is None
                    if on_finished is not None:
                        on_finished(name)
                    report.finished.append(name)
                    say(f"finished {name} in {minutes:.1f} min")
                    continue
                failed.add(name)
                # a run refusing its head file (exit 2) after an edit of it: the edit, not the options;
                # one refusing its folder's lock (a run started meanwhile by another driver): the lock
                # one refusing its folder (files put there meanwhile): the folder
                changed = (changed_head(job) or still_running(runs / name) or _unusable_folder(runs / name)
                           if code == EXIT_USAGE else None)
                if code == EXIT_USAGE and not changed and not problem:
                    if not (job.own_input or resumed or common_work):
                        failure = JobFailure(name, code, str(log), _tail(log))
                        report.failures.append(failure)
                        raise ConfigError(f"{job.command} {name} refused its options (exit 2), so every run would:\n"
                                          f"{failure.last_lines}\n(full log: {log})")
                    changed = _own_refusal(job, resumed, refused_inputs)
                why = (f"it finished, but it is not the run this comparison plans, so it is not reported: {problem}"
                       if problem else f"{_tail(log)}\n{changed}" if changed else _tail(log))
                failure = JobFailure(name, code, str(log), why)
                report.failures.append(failure)
                say(f"FAILED {name} (exit {code}) after {minutes:.1f} min; log: {log}"
                    + (f"\n  {problem or changed}" if problem or changed else ""))
            if running:
                time.sleep(poll_seconds)
    except _Stopped:
        pass   # (stop.signum says which; the runs are stopped below)
    finally:
        # Back before the children are waited for: a second signal ends the driver at once,
        # as a second signal ends a run.
        stop.restore()
        in_progress = sorted(running)
        for process, *_ in running.values():   # interrupted or aborted: stop the children cleanly
            if process.poll() is None:
                process.terminate()
        for process, *_ in running.values():
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
    if stop.requested:
        stopped_by = signal.Signals(stop.signum)
        where = (f"the runs in progress ({', '.join(in_progress)}) were stopped at a step boundary with a checkpoint"
                 if in_progress else "no run was in progress")
        raise RunInterrupted(f"stopped by {stopped_by.name}: {where}; run the same command again to continue "
                             f"(finished runs are kept; their logs are in {logs})", stopped_by)
    return report
