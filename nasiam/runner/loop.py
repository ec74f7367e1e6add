"""`Run`: what every training command shares, on Lightning Fabric.

Fabric gives the device placement, DDP (gloo on CPU, NCCL on GPU), mixed precision and the
process launch; the loop itself stays plain and readable. A `Run` resolves its directory,
resumes from `checkpoints/last.ckpt` (model, optimisers, loop position, RNG states: a resumed
CPU run continues exactly as an uninterrupted one), writes a checkpoint every epoch, stops on
a non-finite loss, and logs to CSV and optionally W&B. Subclasses (`SearchRun`,
`PretrainRun`) define the model, the step and the outputs.
"""
from __future__ import annotations

import dataclasses
import time
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn as nn

from nasiam._compat import ddp_ignore, set_fabric_loader_passes
from nasiam._io import atomic_write_text
from nasiam.config import STRUCTURAL_KEYS, ConfigError, RunConfig, config_to_yaml, demo_scale_note
from nasiam.eval.knn import KNN_SETTINGS, extract_features, knn_accuracy
from nasiam.eval.protocol import PREDICTIONS_FILE, evaluate_features, save_predictions
from nasiam.eval.rankme import rankme
from nasiam.runner import checkpoint as ckpt
from nasiam.runner.batches import ResumableBatches
from nasiam.runner.build import build_eval_datasets, canonical_framework, compile_modules, make_loader
from nasiam.runner.errors import CheckpointError, NonFiniteLossError, RunDirLockedError, RunInterrupted
from nasiam.runner.lock import RunDirLock
from nasiam.runner.logger import RunLogger, progress
from nasiam.runner.stop import REQUEUE_SIGNAL, StopSignals, requeue_slurm_job

__all__ = ["Run", "forever", "tune_cpu_allocator"]


def forever(loader):
    """Batches without end, re-iterating (and re-shuffling) the loader each pass."""
    while True:
        yield from loader


def tune_cpu_allocator() -> None:
    """On Linux/glibc, keep freed memory in the process: PyTorch's CPU allocator is plain
    malloc, and every large tensor otherwise costs an mmap and page faults (measured in
    benchmarks/head_cost.py --tune-malloc)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass


def _precision(cfg: RunConfig, use_cuda: bool) -> str:
    if cfg.precision != "auto":
        return cfg.precision
    if use_cuda:
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "32-true"


DATA_SEED_OFFSET = 10_000  # the data stream's seed is seed + this (+ rank): apart from the init's stream


class Run:
    command: ClassVar[str]

    def __init__(self, cfg: RunConfig, verbose: bool = True):
        self.cfg, self.verbose = cfg, verbose
        self.start_epoch, self.global_step = 0, 0
        self.history: list[dict[str, Any]] = []   # per-epoch metrics
        self.elapsed = 0.0                        # training seconds, across resumes
        self.epoch_callbacks: list = []           # f(epoch, metrics) after each epoch (sweeps prune here)
        self.rankme: float | None = None          # RankMe of the last kNN memory bank's features
        self.used_artifacts: list[str] = []       # W&B artifacts the run was built from (lineage)
        self.eval_features: tuple | None = None   # ((bank, labels), (test, labels)) of the last kNN
        self.run_lock: RunDirLock | None = None   # rank 0's ownership of the run directory
        self.stop_signals = StopSignals()         # SIGINT/SIGTERM/SIGUSR1 noted, acted on at a step boundary
        self._stop_at_boundary = False            # the ranks' agreement on it (set by settle)
        self._first_bad: torch.Tensor | None = None  # the first non-finite loss, noted on the device
        self._resume_mid: dict[str, Any] | None = None  # this rank's position in a half-done epoch
        self._resume_positions: dict[str, Any] = {}      # its loaders' positions, for `batches`
        self._batches: dict[str, ResumableBatches] = {}  # the epoch's loader passes, by name

    # -- to define in subclasses -------------------------------------------------------
    def build(self) -> None:
        """Set self.model (raw module), self.loaders, optimisers; called on every rank."""
        raise NotImplementedError

    def ddp_ignored(self) -> list[str]:
        """Parameter and buffer names DDP must leave alone."""
        return []

    def find_unused_parameters(self) -> bool:
        return False

    def train_epoch(self, epoch: int) -> dict[str, float]:
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        raise NotImplementedError

    def load_state(self, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def finish(self) -> dict[str, Any]:
        raise NotImplementedError

    # -- shared machinery ---------------------------------------------------------------
    def setup_fabric(self):
        from lightning_fabric import Fabric
        from lightning_fabric.strategies import DDPStrategy

        cfg = self.cfg
        # numpy's seeds are 32-bit and the data stream's is offset from --seed (per rank): refuse
        # here, before anything is written, rather than fail inside Lightning
        top = 2 ** 32 - 1 - DATA_SEED_OFFSET - cfg.world_size
        if not 0 <= cfg.seed <= top:
            raise ConfigError(f"--seed must be an integer in [0, {top}], got {cfg.seed}")
        accelerator = "cuda" if cfg.accelerator == "gpu" else cfg.accelerator
        use_cuda = accelerator == "cuda" or (accelerator == "auto" and torch.cuda.is_available())
        if accelerator == "cuda" and not torch.cuda.is_available():
            # checked here: a CUDA build without a driver raises from torch.cuda calls (torch 2.4)
            raise ConfigError(f"--accelerator={cfg.accelerator} needs a CUDA GPU, and PyTorch {torch.__version__} "
                              "finds none on this machine; use --accelerator=cpu or --accelerator=auto")
        if not use_cuda:
            tune_cpu_allocator()
        strategy: Any = "auto"
        if cfg.world_size > 1:
            strategy = DDPStrategy(find_unused_parameters=self.find_unused_parameters(),
                                   process_group_backend="nccl" if use_cuda else "gloo")
        try:
            self.fabric = Fabric(accelerator=accelerator, devices=cfg.devices, num_nodes=cfg.num_nodes,
                                 strategy=strategy, precision=_precision(cfg, use_cuda))
            self.fabric.launch()
        except ValueError as e:  # e.g. --devices/--num_nodes differ from SLURM's --ntasks-per-node/--nodes
            raise ConfigError(f"Lightning Fabric refused the machine options: {e}") from None
        except RuntimeError as e:  # e.g. `CUDAAccelerator` can not run on your system (no CUDA)
            if "accelerator" not in str(e).lower():
                raise
            raise ConfigError(f"--accelerator={cfg.accelerator} is not available on this machine "
                              f"({str(e).splitlines()[0]}); use --accelerator=cpu or --accelerator=auto") from None
        if cfg.sync_batchnorm and self.fabric.world_size > 1 and self.fabric.device.type != "cuda":
            raise ConfigError("--sync_batchnorm needs GPUs: PyTorch's DDP runs SyncBatchNorm on CUDA devices only; "
                              "leave it out on CPU")
        self.fabric.seed_everything(cfg.seed, verbose=False)
        self.channels_last = cfg.channels_last if cfg.channels_last is not None else self.fabric.device.type == "cuda"

    def resolve_run_dir(self) -> tuple[Path, Path | None]:
        """The run directory, locked for this run (see `lock_run_dir`), and the checkpoint to
        resume from (if resuming). The lock comes first: a run that is still going may not have
        written its first checkpoint yet, and must not be resumed (or started over) meanwhile."""
        cfg = self.cfg
        resume = cfg.resume
        if resume is not None and resume.lower() == "auto":
            # a requeued cluster job re-runs its own command: continue if there is a checkpoint
            if not cfg.run_name:
                raise CheckpointError("--resume=auto needs --run_name, so that a requeued job finds its run again")
            has_checkpoint = (Path(cfg.out_dir) / cfg.run_name / "checkpoints" / ckpt.LAST).is_file()
            resume = "true" if self.fabric.broadcast(has_checkpoint) else None
        if resume is not None and resume.lower() not in ("true", "1", "yes", "last"):
            target = Path(resume)
            checkpoint = ckpt.find_checkpoint(target)  # raises (touching nothing) when there is none
            run_dir = target
            if target.is_file():
                run_dir = target.parent.parent if target.parent.name == "checkpoints" else target.parent
            if not (run_dir / "config.yaml").is_file():   # lock nothing that is not a nasiam run directory
                raise CheckpointError(f"--resume={resume}: {run_dir} is not a nasiam run directory (no config.yaml); "
                                      "pass a run directory or a checkpoint in its checkpoints/ folder")
            self.lock_run_dir(run_dir)
            return run_dir, checkpoint
        if resume is not None:
            if not cfg.run_name:
                raise CheckpointError("--resume needs the run to continue: pass --run_name NAME (as when it started) "
                                      "or --resume=RUN_DIR")
            run_dir = Path(cfg.out_dir) / cfg.run_name
            if not run_dir.exists():
                ckpt.find_checkpoint(run_dir)  # raises: no such run directory
            self.lock_run_dir(run_dir)
            return run_dir, ckpt.find_checkpoint(run_dir)
        name = cfg.run_name or f"{self.command}-{canonical_framework(cfg)}-{datetime.now():%Y%m%d-%H%M%S}"
        name = self.fabric.broadcast(name)  # every rank writes to rank 0's directory
        run_dir = Path(cfg.out_dir) / name
        self.lock_run_dir(run_dir)
        if (run_dir / "checkpoints" / ckpt.LAST).exists():
            raise CheckpointError(f"{run_dir} already holds a run; continue it with --resume --run_name {name}, "
                                  "or choose another --run_name")
        return run_dir, None

    def lock_run_dir(self, run_dir: Path) -> None:
        """Rank 0 takes the run directory's lock for the whole job (released in `execute`); every
        rank learns whether it got it, so none is left waiting for the others."""
        refused = None
        if self.fabric.is_global_zero:
            try:
                self.run_lock = RunDirLock(run_dir, self.command).acquire()
            except RunDirLockedError as e:
                refused = str(e)
            else:
                stale = self.run_lock.describe_stale()
                if stale:
                    self.say(stale)
        refused = self.fabric.broadcast(refused)
        if refused:
            raise RunDirLockedError(refused)

    def header(self) -> dict[str, Any]:
        return {"command": self.command, "framework": canonical_framework(self.cfg),
                "config": dataclasses.asdict(self.cfg)}

    def _all_rng_states(self) -> list:
        """Every rank's random generators (ranks draw differently: their augmentations and
        sampled paths differ), gathered on every rank."""
        return self._gather(ckpt.rng_state())

    def _gather(self, value: Any) -> list:
        """`value` of every rank, in rank order, on every rank."""
        if self.fabric.world_size == 1:
            return [value]
        import torch.distributed as dist

        gathered: list = [None] * self.fabric.world_size
        dist.all_gather_object(gathered, value)
        return gathered

    def save(self, epoch_done: int, mid_epoch: dict[str, Any] | None = None) -> None:
        """Checkpoint after `epoch_done` epochs: last.ckpt and epoch=N.ckpt (rank 0). With
        `mid_epoch` (this rank's position in the next epoch, see `step_boundary`), last.ckpt
        only: the epoch=N files stay whole epochs."""
        rng_states = self._all_rng_states()
        positions = self._gather(mid_epoch) if mid_epoch is not None else None
        if self.fabric.is_global_zero:
            directory = self.run_dir / "checkpoints"
            elapsed = self.elapsed + (time.perf_counter() - self._epoch_started if positions else 0.0)
            state = {**self.state(), "epoch": epoch_done, "global_step": self.global_step, "rng": rng_states,
                     "history": self.history, "elapsed": elapsed}
            if positions is not None:
                state["mid_epoch"] = {"step": int(positions[0]["step"]), "ranks": positions}
            ckpt.save_checkpoint(directory / ckpt.LAST, state, self.header())
            if self.cfg.keep_checkpoints != 0 and positions is None:
                ckpt.save_checkpoint(directory / f"epoch={epoch_done}.ckpt", state, self.header())
                ckpt.prune_epoch_checkpoints(directory, self.cfg.keep_checkpoints)
        self.fabric.barrier()

    def restore(self, path: Path) -> None:
        state = ckpt.load_checkpoint(path, self.command)
        ckpt.check_fields(state, path)
        saved = state["nasiam"].get("config", {})
        ckpt.check_compatible(saved, dataclasses.asdict(self.cfg), STRUCTURAL_KEYS + ("seed", "subset", "arch_fraction"),
                              path, defaults=dataclasses.asdict(type(self.cfg)()))
        try:
            self.load_state(state)
        except (RuntimeError, KeyError, ValueError, TypeError, AttributeError, IndexError) as e:
            raise CheckpointError(f"{path} does not fit this run's model or optimiser: "
                                  f"{str(e).splitlines()[0][:300]}") from None
        self.start_epoch, self.global_step = int(state["epoch"]), int(state["global_step"])
        self.history, self.elapsed = list(state.get("history", [])), float(state.get("elapsed", 0.0))
        rng = state["rng"]
        self._resume_rng = rng[self.fabric.global_rank] if isinstance(rng, list) else rng
        mid = state.get("mid_epoch")
        if mid is not None:  # stopped by a signal inside epoch `start_epoch + 1`
            ranks = mid.get("ranks") if isinstance(mid, dict) else None
            if not isinstance(ranks, list) or len(ranks) != self.fabric.world_size:
                raise CheckpointError(f"{path} holds a mid-epoch position this run cannot use; resume from "
                                      f"checkpoints/epoch={self.start_epoch}.ckpt instead")
            self._resume_mid = ranks[self.fabric.global_rank]

    def check_finite(self, loss: torch.Tensor, epoch: int, step: int) -> None:
        """Note whether the loss is finite, on the device (the step does not wait for the GPU),
        and act on it every `log_every_n_steps` steps and at the end of each epoch (`settle`).
        A non-finite loss is thus caught before any checkpoint is written after it."""
        loss = loss.detach().float()
        if self._first_bad is None:  # [found, the loss then, the step then]
            self._first_bad = torch.zeros(3, device=loss.device)
        seen = torch.stack([torch.ones_like(loss), loss, torch.full_like(loss, float(step))])
        new = ~torch.isfinite(loss) & (self._first_bad[0] == 0)
        self._first_bad = torch.where(new, seen, self._first_bad)
        if step % self.cfg.log_every_n_steps == 0:
            self.settle(epoch)

    def settle(self, epoch: int) -> None:
        """Read the noted flags back (one transfer): stop with `NonFiniteLossError` if a loss was
        not finite. Under DDP one reduction carries both flags (a non-finite loss on any rank, a
        stop signal on any rank), so every rank stops at the same step boundary."""
        first_bad = self._first_bad if self._first_bad is not None else torch.zeros(3, device=self.fabric.device)
        flags = torch.stack([first_bad[0], torch.full_like(first_bad[0], 1.0 if self.stop_signals.requested else 0.0)])
        if self.fabric.world_size > 1:
            flags = self.fabric.all_reduce(flags, reduce_op="sum")
        any_bad, any_stop, mine, value, step = torch.cat([flags, first_bad]).tolist()
        if self.fabric.world_size > 1:
            self._stop_at_boundary = any_stop > 0
        if any_bad > 0:
            last = self.run_dir / "checkpoints" / ckpt.LAST
            kept = (f"the last good checkpoint is {last} (after epoch {self.start_epoch_of_last()})"
                    if last.exists() else "no epoch had finished, so there is no checkpoint")
            where = (f"the loss became {value:.4g} at epoch {epoch + 1}, step {int(step)}" if mine
                     else f"the loss became non-finite on another process by epoch {epoch + 1}")
            raise NonFiniteLossError(f"{where}; training stopped and {kept}. "
                                     "Lower --lr (or --arch_lr), then continue with --resume.", epoch, int(step))

    # -- stopping on a signal, and continuing mid-epoch -----------------------------------
    def batches(self, loader, name: str, endless: bool = False) -> ResumableBatches:
        """The epoch's batches of `loader` (pass after pass when `endless`), continuing where a
        run stopped mid-epoch left off; `name` tells the loaders apart in the checkpoint ("train":
        the loader whose batches count the epoch's steps)."""
        self._batches[name] = ResumableBatches(loader, endless, self._resume_positions.pop(name, None))
        return self._batches[name]

    def resume_within_epoch(self) -> dict[str, Any]:
        """Call at the start of every epoch, after resetting the monitors and before `batches`:
        the running sums a run stopped in this epoch had reached (empty otherwise), with the
        collapse monitors restored. The saved position is used once, by this epoch only."""
        self._batches = {}
        mid, self._resume_mid = self._resume_mid, None
        self._resume_positions = dict(mid["batches"]) if mid is not None else {}
        if mid is None:
            return {}
        for name, saved in mid["monitors"].items():
            # the monitors keep the epoch's last embeddings in chunks; restored as they were,
            # they report (and trim) exactly as in an uninterrupted run
            monitor = getattr(self, name)
            monitor._chunks, monitor._count = list(saved["chunks"]), int(saved["count"])
        return dict(mid["sums"])

    def step_boundary(self, epoch: int, **sums: Any) -> None:
        """The end of a training step. On SIGINT/SIGTERM, write last.ckpt with the epoch's
        position (batches taken from each loader, the RNG state each pass began from, the
        running sums `sums`, the monitors) and stop: `--resume` continues at the next step."""
        stop = self.stop_signals.requested if self.fabric.world_size == 1 else self._stop_at_boundary
        if not stop:
            return
        if self.fabric.world_size == 1:
            self.settle(epoch)  # never checkpoint weights a non-finite loss has touched
        sums = {k: _to_host(v) for k, v in sums.items()}
        positions = {name: b.position() for name, b in self._batches.items() if b.position() is not None}
        monitors = {name: {"chunks": list(getattr(self, name)._chunks), "count": getattr(self, name)._count}
                    for name in ("monitor", "feature_monitor") if hasattr(self, name)}
        step = self._batches["train"].consumed if "train" in self._batches else 0
        self.save(epoch, {"step": step, "batches": positions, "sums": sums, "monitors": monitors})
        self._interrupted(f"after step {step} of epoch {epoch + 1}")

    def stop_if_requested(self, epochs_done: int) -> None:
        """At an epoch boundary (its checkpoint written): stop if a signal came meanwhile."""
        stop = self.stop_signals.requested
        if self.fabric.world_size > 1:
            flag = torch.tensor(1.0 if stop else 0.0, device=self.fabric.device)
            stop = float(self.fabric.all_reduce(flag, reduce_op="sum")) > 0
        if stop:
            self._interrupted(f"after epoch {epochs_done}")

    def _interrupted(self, where: str) -> None:
        import signal

        signum = self.stop_signals.signum or signal.SIGTERM  # another rank's signal: report it as a stop
        name = signal.Signals(signum).name
        requeued = ""
        if signum == REQUEUE_SIGNAL and self.fabric.is_global_zero:  # the checkpoint is written: safe to requeue
            requeued = f"; {requeue_slurm_job()}"
        raise RunInterrupted(f"stopped by {name} {where}; the checkpoint {self.run_dir / 'checkpoints' / ckpt.LAST} "
                             f"holds that point: continue with --resume --run_name {self.run_dir.name} "
                             f"--out_dir {self.run_dir.parent}{requeued}", signum)

    def start_epoch_of_last(self) -> int:
        return len(self.history)

    def grad_scaler(self):
        """Fabric's loss scaler (fp16 on CUDA), or None: with bf16, fp32 and on CPU (where
        Fabric runs 16-mixed as bf16) nothing is scaled. Gradients taken outside
        `fabric.backward` scale themselves when there is one."""
        return getattr(self.fabric.strategy.precision, "scaler", None)

    def prepare(self, views):
        if self.channels_last:
            return [v.contiguous(memory_format=torch.channels_last) for v in views]
        return views

    def set_sampler_epoch(self, loader, epoch: int) -> None:
        """The shuffle of a DistributedSampler follows the epoch, also after a resume. Fabric's
        loader sets the sampler's epoch itself from how often it was iterated, a count that
        starts at 0 in a resumed process: it is set here too."""
        set_fabric_loader_passes(loader, epoch)
        sampler = getattr(loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)

    def say(self, message: str) -> None:
        if self.verbose and self.fabric.is_global_zero:
            print(message, flush=True)

    def execute(self) -> dict[str, Any]:
        self.setup_fabric()
        try:
            summary = self._execute()
            # which process returns it: only the first prints (ranks do not share LOCAL_RANK or
            # NODE_RANK conventions across launchers; SLURM sets neither)
            return {**summary, "global_rank": self.fabric.global_rank}
        finally:
            if self.run_lock is not None:  # however the run ends: the directory is free again
                self.run_lock.release()
                self.run_lock = None

    def _execute(self) -> dict[str, Any]:
        note = demo_scale_note(self.cfg)
        if note:
            self.say(note)
        self.run_dir, resume_from = self.resolve_run_dir()
        self._resume_rng = None
        try:
            self.build()
        except (ValueError, KeyError) as e:  # an impossible combination of valid-looking options
            raise ConfigError.from_error(e) from None
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        if self.cfg.sync_batchnorm and self.fabric.world_size > 1:
            # in place: the BatchNorm modules are swapped inside their parents, so the runner's
            # references to the heads and the backbone stay valid
            nn.SyncBatchNorm.convert_sync_batchnorm(self.model)
            synced = sum(isinstance(m, nn.SyncBatchNorm) for m in self.model.modules())
            self.say(f"SyncBatchNorm: {synced} BatchNorm layers use the global batch of {self.fabric.world_size} processes")
        if self.cfg.compile:
            compiled = compile_modules(self.model)
            self.say(f"torch.compile: {', '.join(compiled)} (each compiles at its first call; the first steps are slow)")
        ignored = self.ddp_ignored()
        if ignored and self.fabric.world_size > 1:
            ddp_ignore(self.model, ignored)
        self.fabric_model = self.fabric.setup_module(self.model)  # DDP syncs rank 0's weights here
        self.setup_optimizers()
        # From here on the data order, the augmentations and the sampled paths depend on the seed
        # and the rank only, not on how many random numbers the model's init drew: runs with
        # different heads and one seed see the same batches (paired comparisons, `nasiam
        # compare`), and each rank draws its own.
        self.fabric.seed_everything(self.cfg.seed + DATA_SEED_OFFSET + self.fabric.global_rank, verbose=False)
        if resume_from is not None:
            self.restore(resume_from)
            self.say(f"resuming {self.run_dir} after epoch {self.start_epoch}")
        if self.fabric.is_global_zero:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.run_dir / "config.yaml", config_to_yaml(self.cfg))
        self.fabric.barrier()
        self.logger = RunLogger(self.run_dir, self.fabric.is_global_zero, dataclasses.asdict(self.cfg), self.cfg.log_sinks,
                                self.cfg.wandb_project, self.cfg.wandb_entity, self.run_dir.name,
                                resume_step=self.global_step if resume_from is not None else None,
                                mode=self.cfg.wandb_mode)
        for reference in self.used_artifacts:
            self.logger.use_artifact(reference)
        if self._resume_rng is not None:
            ckpt.set_rng_state(self._resume_rng)  # last, so the data order continues exactly
        self.stop_signals.install()  # each rank's own: all of them stop at the same boundary
        exit_code = 1  # unless the run ends well, or with an error that says otherwise
        try:
            for epoch in range(self.start_epoch, self.cfg.epochs):
                self._epoch_started = start = time.perf_counter()
                metrics = self.train_epoch(epoch)
                self.settle(epoch)  # before the epoch's checkpoint: its last steps' losses were finite
                self.elapsed += time.perf_counter() - start
                metrics = {"epoch": epoch + 1, "epoch_seconds": round(time.perf_counter() - start, 2), **metrics}
                self.history.append(metrics)
                # at the epoch's last step: a resumed run keeps these rows and redoes what followed
                self.logger.log({f"epoch/{k}": v for k, v in metrics.items() if isinstance(v, (int, float))},
                                self.global_step - 1)
                self.after_epoch(epoch)
                self.save(epoch + 1)
                self.say(self.describe_epoch(metrics))
                for callback in self.epoch_callbacks:
                    callback(epoch, metrics)
                self.stop_if_requested(epoch + 1)
            # from here a signal acts at once again: the last epoch's checkpoint is written
            self.stop_signals.restore()
            summary = self.finish()
            exit_code = 0
            return summary
        except BaseException as e:
            exit_code = getattr(e, "exit_code", 1)  # e.g. 3 for a collapsed search: W&B marks the run failed
            raise
        finally:
            self.stop_signals.restore()
            self.logger.close(exit_code)

    def after_epoch(self, epoch: int) -> None:
        """Hook for per-epoch artefacts (alphas, plots)."""

    def describe_epoch(self, metrics: dict[str, Any]) -> str:
        parts = [f"epoch {metrics['epoch']}/{self.cfg.epochs}"]
        for key in ("loss", "arch_loss", "knn_top1", "collapse_std", "effective_rank", "images_per_second"):
            if key in metrics and metrics[key] is not None:
                parts.append(f"{key} {metrics[key]:.4g}")
        parts.append(f"{metrics['epoch_seconds']:.0f}s")
        return "  ".join(parts)

    def setup_optimizers(self) -> None:
        raise NotImplementedError

    # -- helpers for subclasses ---------------------------------------------------------
    def weight_optimizer(self, model: nn.Module, params_by_group: list[dict[str, Any]]) -> torch.optim.Optimizer:
        cfg = self.cfg
        lr = self.base_lr()
        groups = [{"params": g["params"], "lr": lr, "fixed_lr": g.get("fixed_lr", False)} for g in params_by_group
                  if g["params"]]
        if cfg.optimizer == "sgd":
            return torch.optim.SGD(groups, lr=lr, momentum=0.9, weight_decay=cfg.weight_decay)
        if cfg.optimizer == "lars":
            from timm.optim import Lars

            # biases and norm parameters get neither weight decay nor the trust ratio (SimCLR, MoCo v3)
            split = []
            for g in groups:
                split.append({**g, "params": [p for p in g["params"] if p.ndim > 1]})
                split.append({**g, "params": [p for p in g["params"] if p.ndim <= 1], "weight_decay": 0.0})
            return Lars([g for g in split if g["params"]], lr=lr, momentum=0.9, weight_decay=cfg.weight_decay,
                        trust_clip=True)
        return torch.optim.AdamW(groups, lr=lr, weight_decay=cfg.weight_decay)

    def base_lr(self) -> float:
        return self.cfg.lr * self.cfg.batch_size * self.cfg.world_size / 256  # the global batch, all nodes

    def monitor_metrics(self, epoch: int) -> dict[str, float]:
        """The epoch's collapse metrics, of the projector output (`self.monitor`) and of the
        backbone features (`self.feature_monitor`), and kNN top-1 when it is due."""
        metrics: dict[str, float] = {}
        self.settle(epoch)   # a non-finite loss stops here (exit 4), before the monitors' SVDs meet its NaNs
        report = self.monitor.report()
        if report is not None:
            metrics.update(collapse_std=report.normalized_std, effective_rank=report.effective_rank)
        features = self.feature_monitor.report()
        if features is not None:
            metrics.update(feature_std=features.normalized_std, feature_rank=features.effective_rank)
        if self.cfg.knn_every and (epoch + 1) % self.cfg.knn_every == 0:
            metrics["knn_top1"] = self.knn()
            metrics["rankme"] = self.rankme
        return metrics

    def knn(self) -> float | None:
        """kNN top-1 (%) of the backbone features on the test split (rank 0; others wait); also
        sets `self.rankme`, RankMe of the memory bank's features (labels unused)."""
        accuracy = None
        if self.fabric.is_global_zero:
            bank, test = self._extract_eval_features()
            accuracy = knn_accuracy(*bank, *test, num_classes=self.info.num_classes, k=self.cfg.knn_k)
            # the label-free score of the same features, so runs can be compared without labels
            self.rankme = rankme(bank[0])
        self.fabric.barrier()
        return accuracy

    def _extract_eval_features(self) -> tuple:
        """Rank 0's features of the memory bank and the test split, kept in `eval_features` for
        the end-of-run evaluation (no collective call: callers decide where the ranks meet)."""
        bank_set, test_set = build_eval_datasets(self.cfg, self.info)
        device = self.fabric.device
        bank, test = (extract_features(self.model.backbone,
                                       progress(None, self.verbose, f"{name} features",
                                                make_loader(dataset, self.cfg, False, False)),
                                       device, self.channels_last)
                      for name, dataset in (("train", bank_set), ("test", test_set)))
        self.eval_features = (bank, test)
        return bank, test

    def final_evaluation(self, linear: bool) -> dict[str, Any]:
        """The end-of-run metrics (nasiam.eval.protocol: kNN at k=20 and k=200, the linear probe
        when `linear`, RankMe, and `knn_top1` at --knn_k) on rank 0, with the per-image test
        predictions written to eval/predictions.safetensors and the time it took as
        `eval_seconds`; {} on the other ranks. Reuses the features of a kNN of the last epoch."""
        metrics: dict[str, Any] = {}
        if self.fabric.is_global_zero:
            start = time.perf_counter()
            knn_top1 = (self.history[-1] if self.history else {}).get("knn_top1")
            if knn_top1 is None or self.eval_features is None:
                self.say("Evaluating the backbone (kNN, linear probe) on the train and test splits ...")
                self._extract_eval_features()
                knn_top1 = None
            (bank, bank_labels), (test, test_labels) = self.eval_features
            share = self.cfg.knn_k / max(1, len(bank))
            if share > 0.1:   # k spanning much of the bank votes with most of every class: a low, flat score
                self.say(f"Note: --knn_k={self.cfg.knn_k} neighbours is {share:.0%} of the {len(bank)}-image memory bank, "
                         "so the kNN score is low for reasons of the bank, not of the features; raise --knn_subset "
                         "(none: the whole training split) or lower --knn_k")
            evaluation = evaluate_features(bank, bank_labels, test, test_labels, self.info.num_classes,
                                           linear=linear, seed=self.cfg.seed, verbose=self.verbose)
            save_predictions(self.run_dir / "eval" / PREDICTIONS_FILE, evaluation)
            if knn_top1 is None:   # --knn_k at T=0.1: the k=200 setting already computed it
                knn_top1 = (evaluation.metrics[f"knn{self.cfg.knn_k}_top1"] if (self.cfg.knn_k, 0.1) in KNN_SETTINGS
                            else knn_accuracy(bank, bank_labels, test, test_labels, self.info.num_classes,
                                              k=self.cfg.knn_k))
            metrics = {"knn_top1": knn_top1, **evaluation.metrics,
                       "eval_seconds": round(time.perf_counter() - start, 1)}
            self.rankme = evaluation.metrics["rankme"]
            # after the last step, to every logger (with --knn_every 0 the only kNN of the run)
            self.logger.log_final({f"eval/{k.removeprefix('eval_')}": v for k, v in metrics.items()}, self.global_step)
        self.fabric.barrier()
        return metrics


def _to_host(value: Any) -> Any:
    """Running sums kept on the device (tensors), as plain numbers for a checkpoint."""
    if isinstance(value, torch.Tensor):
        return float(value)
    if isinstance(value, dict):
        return {k: _to_host(v) for k, v in value.items()}
    return value
