"""SIGINT, SIGTERM, SIGUSR1 and SIGHUP as requests to stop at the next step boundary.

Killing a run mid-step loses everything since the last epoch checkpoint; a cluster scheduler
sends SIGTERM some time before SIGKILL, SLURM sends SIGUSR1 ahead of the time limit when asked
(`#SBATCH --signal=USR1@120`), Ctrl-C sends SIGINT, a closed terminal SIGHUP (left alone under
`nohup`). The handlers only note the signal; the loop sees it at the end of the step, writes a
resumable checkpoint and exits with 128 + the signal's number. On SIGUSR1 inside a SLURM job the
job is also requeued (as Lightning's Trainer does), so `--resume=auto --run_name NAME` continues
where it stopped. A second signal stops at once (KeyboardInterrupt).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from typing import Callable, Mapping

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGHUP)
REQUEUE_SIGNAL = signal.SIGUSR1
# SIGHUP (the terminal closed) stops a run as SIGTERM does, unless the process ignores it:
# under `nohup` the user asked for the run to outlive the terminal
KEPT_IF_IGNORED = (signal.SIGHUP,)


def slurm_job_id(environ: Mapping[str, str] = os.environ) -> str | None:
    """The id `scontrol requeue` takes: an array task's own id, else the job's."""
    array_job, array_task = environ.get("SLURM_ARRAY_JOB_ID"), environ.get("SLURM_ARRAY_TASK_ID")
    if array_job and array_task:
        return f"{array_job}_{array_task}"
    return environ.get("SLURM_JOB_ID") or None


def requeue_slurm_job(environ: Mapping[str, str] = os.environ) -> str:
    """Requeue this SLURM job; returns a sentence saying what happened (for the exit message)."""
    job = slurm_job_id(environ)
    if job is None:
        return "not in a SLURM job, so nothing was requeued"
    scontrol = shutil.which("scontrol", path=environ.get("PATH"))
    if scontrol is None:
        return f"SLURM job {job} was not requeued: scontrol is not on PATH; resubmit the job"
    result = subprocess.run([scontrol, "requeue", job], capture_output=True, text=True)
    if result.returncode != 0:
        return (f"`scontrol requeue {job}` failed ({(result.stderr or result.stdout).strip()[:200]}); "
                "resubmit the job")
    return f"SLURM job {job} requeued: it continues with --resume=auto"


class StopSignals:
    """`install()` the handlers (main thread only: Python allows no other), `restore()` the
    previous ones; also a context manager. `signals`: which to handle (default: a run's)."""

    def __init__(self, signals: tuple[int, ...] = STOP_SIGNALS):
        self.signals = tuple(signals)
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def _handle(self, signum, frame) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt  # asked twice: stop now, the last checkpoint is kept
        self.signum = signum

    def install(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread() and not self._previous:
            for signum in self.signals:
                if signum in KEPT_IF_IGNORED and signal.getsignal(signum) == signal.SIG_IGN:
                    continue
                previous = signal.signal(signum, self._handle)
                # None: a handler set outside Python; the default is the closest we can put back
                self._previous[signum] = signal.SIG_DFL if previous is None else previous
        return self

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def __enter__(self) -> StopSignals:
        return self.install()

    def __exit__(self, *exc) -> None:
        self.restore()


def interrupt_until(done: Callable[[], bool], note: str) -> None:
    """Ctrl-C raises KeyboardInterrupt until `done()` says the command's outputs are complete;
    after that it only prints `note`. A Ctrl-C landing while a finished command prints its result
    or shuts down would otherwise end it with 130 and "interrupted" over complete files. Installed
    for the rest of the process; left alone where SIGINT is ignored (a script's `cmd &`) or off
    the main thread."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        return

    def handle(signum, frame) -> None:
        if not done():
            raise KeyboardInterrupt
        try:
            print(f"\n{note}", file=sys.stderr, flush=True)
        except Exception:   # stderr closed or gone at shutdown: the exit status says it all
            pass

    signal.signal(signal.SIGINT, handle)
