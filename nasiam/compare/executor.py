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

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from nasiam.compare.launch import UnusableLogError, open_log, start_run, still_running
from nasiam.compare.plan import Job, changed_head
from nasiam.compare.run_folders import check_run, collapsed, pending_jobs, run_finished
from nasiam.config import ConfigError
from nasiam.errors import RunInterrupted
from nasiam.runner.claim import start_refusal
from nasiam.runner.stop import StopSignals

__all__ = ["run_jobs", "JobFailure", "ExecutionReport"]

EXIT_USAGE = 2


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
