"""What stops a run between two steps: a non-finite loss, or a signal (SIGINT/SIGTERM/SIGUSR1/SIGHUP).

The loss is checked on the device, so a step never waits for the GPU; the flags are read back
every --log_every_n_steps steps and at each epoch's end (`settle`), before any checkpoint is
written. Under DDP one reduction carries both flags, so every rank stops at the same boundary.
"""
from __future__ import annotations

import signal
from pathlib import Path
from typing import Callable

import torch

from nasiam.errors import NonFiniteLossError, RunInterrupted, shell_argument, shown_path
from nasiam.runner.stop import REQUEUE_SIGNAL, StopSignals, requeue_slurm_job

__all__ = ["StepGuard"]


class StepGuard:
    """`last_checkpoint` is where the run's last good checkpoint goes; `epochs_in_last()` says
    how many epochs it holds (for the message when a loss turns non-finite)."""

    def __init__(self, fabric, log_every_n_steps: int, last_checkpoint: Path, epochs_in_last: Callable[[], int]):
        self.fabric, self.log_every = fabric, log_every_n_steps
        self.last_checkpoint, self.epochs_in_last = last_checkpoint, epochs_in_last
        self.signals = StopSignals()            # noted by the handlers, acted on at a step boundary
        self._stop_at_boundary = False          # the ranks' agreement on it (set by settle)
        self._first_bad: torch.Tensor | None = None  # [found, the loss then, the step then], on the device

    def note_loss(self, loss: torch.Tensor, epoch: int, step: int) -> None:
        """Note whether `loss` is finite, without a transfer; settle every --log_every_n_steps."""
        loss = loss.detach().float()
        if self._first_bad is None:
            self._first_bad = torch.zeros(3, device=loss.device)
        seen = torch.stack([torch.ones_like(loss), loss, torch.full_like(loss, float(step))])
        new = ~torch.isfinite(loss) & (self._first_bad[0] == 0)
        self._first_bad = torch.where(new, seen, self._first_bad)
        if step % self.log_every == 0:
            self.settle(epoch)

    def settle(self, epoch: int) -> None:
        """Read the noted flags back (one transfer): raise `NonFiniteLossError` if a loss on any
        rank was not finite, and learn whether any rank was asked to stop."""
        first_bad = self._first_bad if self._first_bad is not None else torch.zeros(3, device=self.fabric.device)
        flags = torch.stack([first_bad[0], torch.full_like(first_bad[0], 1.0 if self.signals.requested else 0.0)])
        if self.fabric.world_size > 1:
            flags = self.fabric.all_reduce(flags, reduce_op="sum")
        any_bad, any_stop, mine, value, step = torch.cat([flags, first_bad]).tolist()
        if self.fabric.world_size > 1:
            self._stop_at_boundary = any_stop > 0
        if any_bad > 0:
            # the advice follows what is there: --resume with nothing to resume is refused (the
            # sixth probe of #33 was told "there is no checkpoint", then "continue with --resume")
            if self.last_checkpoint.exists():
                kept = (f"the last good checkpoint is {self.last_checkpoint} (after epoch {self.epochs_in_last()}). "
                        "Lower --lr (or a search's --arch_lr), then continue from it with --resume")
            else:
                kept = ("no epoch had finished, so there is no checkpoint and nothing to resume. Lower --lr (or a "
                        "search's --arch_lr) and run the command again: it starts afresh")
            where = (f"the loss became {value:.4g} at epoch {epoch + 1}, step {int(step)}" if mine
                     else f"the loss became non-finite on another process by epoch {epoch + 1}")
            raise NonFiniteLossError(f"{where}; training stopped and {kept}.", epoch, int(step))

    def stop_at_step(self, epoch: int) -> bool:
        """At the end of a step: whether to stop here. Alone, a signal acts at once (after a
        settle: no checkpoint of weights a non-finite loss has touched); under DDP, at the
        boundary the ranks agreed on in their last `settle`."""
        if self.fabric.world_size > 1:
            return self._stop_at_boundary
        if self.signals.requested:
            self.settle(epoch)
            return True
        return False

    def stop_at_epoch_end(self) -> bool:
        """At an epoch boundary (its checkpoint written): whether any rank was asked to stop."""
        stop = self.signals.requested
        if self.fabric.world_size > 1:
            flag = torch.tensor(1.0 if stop else 0.0, device=self.fabric.device)
            stop = float(self.fabric.all_reduce(flag, reduce_op="sum")) > 0
        return stop

    def interrupted(self, where: str, run_dir: Path) -> RunInterrupted:
        """The error that ends a stopped run (its checkpoint written). On SIGUSR1 inside a SLURM
        job, rank 0 requeues the job first (`scontrol requeue`): call it once, to raise."""
        signum = self.signals.signum or signal.SIGTERM  # another rank's signal: report it as a stop
        requeued = ""
        if signum == REQUEUE_SIGNAL and self.fabric.is_global_zero:  # the checkpoint is written: safe to requeue
            requeued = f"; {requeue_slurm_job()}"
        return RunInterrupted(f"stopped by {signal.Signals(signum).name} {where}; the checkpoint "
                              f"{shown_path(self.last_checkpoint)} holds that point: continue with --resume --run_name {shell_argument(run_dir.name)} "
                              f"--out_dir {shell_argument(run_dir.parent)}{requeued}", signum)
