"""`Run`: what every training command shares, on Lightning Fabric.

Fabric gives the device placement, DDP (gloo on CPU, NCCL on GPU), mixed precision and the
process launch; the loop itself stays plain and readable. A `Run` owns the epoch loop and
calls its subclass's `training_step` once per batch; the rest is in parts of their own:

    claim           which directory the run writes to, and its lock
    checkpoint      save/restore of model, optimisers, loop position and RNG states (a resumed
                    CPU run continues exactly as an uninterrupted one), here every epoch
    guard           a non-finite loss or a stop signal, acted on at a step boundary
    optim           the weight optimiser, its parameter groups and learning-rate schedule
    run_eval        kNN during training and the full evaluation at the end
    logger          CSV, TensorBoard, W&B

Subclasses (`SearchRun`, `PretrainRun`) define the model, the step and the outputs.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn as nn

from nasiam._compat import ddp_ignore, set_fabric_loader_passes
from nasiam._io import atomic_write_text, remove_temporary_files
from nasiam.config import HOW_IT_RAN, STRUCTURAL_KEYS, ConfigError, RunConfig, config_to_yaml, demo_scale_note
from nasiam.errors import (
    OUT_OF_MEMORY_EXIT,
    CheckpointError,
    PeerLostError,
    RunError,
    is_out_of_memory,
    shown,
    shown_path,
)
from nasiam.runner import checkpoint as ckpt
from nasiam.runner.batches import ResumableBatches
from nasiam.runner.build import canonical_framework, compile_modules, gathered
from nasiam.runner.claim import claim_run_dir
from nasiam.runner.guard import StepGuard
from nasiam.runner.lock import RunDirLock
from nasiam.runner.logger import RunLogger, progress
from nasiam.runner.optim import set_scheduled_lr, weight_groups, weight_optimizer
from nasiam.runner.run_eval import RunEvaluator
from nasiam.search import momentum_schedule

__all__ = ["Run", "tune_cpu_allocator"]


def tune_cpu_allocator() -> None:
    """On Linux/glibc, keep freed memory in the process: PyTorch's CPU allocator is plain
    malloc, and every large tensor otherwise costs an mmap and page faults (RESULTS.md, head cost)."""
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
    step_counts: ClassVar[tuple[str, ...]] = ()  # step metrics that count (summed, never logged per step)
    # set by `build`: the model and the loader whose batches make an epoch; by `setup_optimizers`:
    # the weight optimiser and the run's number of steps (the schedules' horizon)
    model: nn.Module
    train_loader: Any
    optimizer: torch.optim.Optimizer
    total_steps: int

    def __init__(self, cfg: RunConfig, verbose: bool = True):
        self.cfg, self.verbose = cfg, verbose
        self.start_epoch, self.global_step = 0, 0
        self.history: list[dict[str, Any]] = []   # per-epoch metrics
        self.elapsed = 0.0                        # training seconds, across resumes
        self.started = time.perf_counter()        # this process's start: wall_seconds in the summary
        self.epoch_callbacks: list = []           # f(epoch, metrics) after each epoch (sweeps prune here)
        self.rankme: float | None = None          # RankMe of the last evaluated features
        self.used_artifacts: list[str] = []       # W&B artifacts the run was built from (lineage)
        self.evaluator: RunEvaluator | None = None  # rank 0's (kNN, the end-of-run evaluation)
        self.run_lock: RunDirLock | None = None   # rank 0's ownership of the run directory
        self._resume_mid: dict[str, Any] | None = None  # this rank's position in a half-done epoch
        self._resume_positions: dict[str, Any] = {}      # its loaders' positions, for `batches`
        self._batches: dict[str, ResumableBatches] = {}  # the epoch's loader passes, by name

    # -- to define in subclasses -------------------------------------------------------
    def build(self) -> None:
        """Set self.model (raw module), self.info, self.train_loader (and any other loader),
        self.monitor and self.feature_monitor; called on every rank."""
        raise NotImplementedError

    def setup_optimizers(self) -> None:
        """Set self.optimizer (through `fabric.setup_optimizers`) and self.total_steps."""
        cfg = self.cfg
        groups = weight_groups(self.model, self.model.fixed_predictor_lr, cfg.fix_pred_lr, cfg.pred_lr_mult)
        self.optimizer = self.fabric.setup_optimizers(weight_optimizer(cfg, groups))
        self.total_steps = cfg.epochs * len(self.train_loader)

    def training_step(self, views: list[torch.Tensor], epoch: int, step: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """One step on one batch: the model's output (with "loss", "z", "h") and the step's
        metrics to sum over the epoch (tensors stay on the device). Call `self.guard.note_loss`
        on every loss before its backward."""
        raise NotImplementedError

    def begin_epoch(self, epoch: int) -> None:
        """Before the train loader's `batches`: e.g. other loaders' `set_sampler_epoch` and `batches`."""

    def epoch_averages(self, totals: dict[str, Any], steps: int) -> dict[str, float]:
        """The epoch's metrics from the summed step metrics (the learning rate left out)."""
        return {k: float(v) / max(1, steps) for k, v in totals.items() if k not in ("lr", *self.step_counts)}

    def step_log_extras(self) -> dict[str, float]:
        """More per-step values to log (not summed)."""
        return {}

    def ddp_ignored(self) -> list[str]:
        """Parameter and buffer names DDP must leave alone: MoCo's queue is identical on every
        rank by construction and too large to broadcast each step."""
        return [n for n, _ in self.model.named_buffers() if n.startswith("queue")]

    def find_unused_parameters(self) -> bool:
        return False

    def state(self) -> dict[str, Any]:
        raise NotImplementedError

    def load_state(self, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def finish(self) -> dict[str, Any]:
        raise NotImplementedError

    def after_epoch(self, epoch: int) -> None:
        """Per-epoch artefacts (alphas, plots)."""

    # -- set-up -------------------------------------------------------------------------
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
        check_ranks_agree(dataclasses.asdict(cfg), self.fabric.world_size)
        if cfg.sync_batchnorm and self.fabric.world_size > 1 and self.fabric.device.type != "cuda":
            raise ConfigError("--sync_batchnorm needs GPUs: PyTorch's DDP runs SyncBatchNorm on CUDA devices only; "
                              "leave it out on CPU")
        self.fabric.seed_everything(cfg.seed, verbose=False)
        self.channels_last = cfg.channels_last if cfg.channels_last is not None else self.fabric.device.type == "cuda"

    def header(self) -> dict[str, Any]:
        return {"command": self.command, "framework": canonical_framework(self.cfg),
                "config": dataclasses.asdict(self.cfg)}

    def say(self, message: str) -> None:
        if self.verbose and self.fabric.is_global_zero:
            print(message, flush=True)

    def grad_scaler(self):
        """Fabric's loss scaler (fp16 on CUDA), or None (bf16, fp32, and CPU, where Fabric runs
        16-mixed as bf16). Gradients taken outside `fabric.backward` must scale themselves."""
        return getattr(self.fabric.strategy.precision, "scaler", None)

    def prepare(self, views):
        if self.channels_last:
            return [v.contiguous(memory_format=torch.channels_last) for v in views]
        return views

    # -- the run ------------------------------------------------------------------------
    def wall_seconds(self) -> float:
        """Seconds since this process built the run (set-up, training, evaluation): what a
        user waits for; a resumed run counts only its last process."""
        return round(time.perf_counter() - self.started, 1)

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
        self.run_dir, resume_from, self.run_lock = claim_run_dir(self.cfg, self.command, canonical_framework(self.cfg),
                                                                 self.fabric, self.say)
        if self.fabric.is_global_zero:   # the lock is held: no write of this run is in flight
            stale = [*remove_temporary_files(self.run_dir),   # any atomic write's (summary.json, the heads, ...)
                     *(f"checkpoints/{name}" for name in ckpt.remove_interrupted_writes(self.run_dir / "checkpoints"))]
            if stale:
                self.say(f"Removed {len(stale)} temporary file(s) of a write that was killed before it finished "
                         f"({', '.join(stale[:3])}); the files themselves are whole")
        self.guard = StepGuard(self.fabric, self.cfg.log_every_n_steps, self.run_dir / "checkpoints" / ckpt.LAST,
                               lambda: len(self.history))
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
        if self.fabric.is_global_zero:
            self.evaluator = RunEvaluator(self.cfg, self.info, self.model.backbone, self.fabric.device,
                                          self.channels_last, self.say, self.verbose)
        # From here the data order, augmentations and sampled paths depend on the seed and the rank
        # only, not on how many numbers the init drew: runs with different heads and one seed see
        # the same batches (paired comparisons, `nasiam compare`).
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
        self.guard.signals.install()  # each rank's own: all of them stop at the same boundary
        exit_code = 1  # unless the run ends well, or with an error that says otherwise
        try:
            for epoch in range(self.start_epoch, self.cfg.epochs):
                self._epoch_started = start = time.perf_counter()
                metrics = self.train_epoch(epoch)
                self.guard.settle(epoch)  # before the epoch's checkpoint: its last steps' losses were finite
                self.elapsed += time.perf_counter() - start
                metrics = {"epoch": epoch + 1, "epoch_seconds": round(time.perf_counter() - start, 2), **metrics}
                self.history.append(metrics)
                # at the epoch's last step: a resumed run keeps these rows and redoes what followed
                self.logger.log_epoch(metrics, self.global_step - 1)
                self.after_epoch(epoch)
                self.save(epoch + 1)
                self.say(self.describe_epoch(metrics))
                for callback in self.epoch_callbacks:
                    callback(epoch, metrics)
                if self.guard.stop_at_epoch_end():
                    raise self.guard.interrupted(f"after epoch {epoch + 1}", self.run_dir)
            # from here a signal acts at once again: the last epoch's checkpoint is written
            self.guard.signals.restore()
            summary = self.finish()
            exit_code = 0
            return summary
        except BaseException as e:
            # e.g. 3 for a collapsed search, 7 out of memory: W&B marks the run failed with the CLI's code
            exit_code = getattr(e, "exit_code", OUT_OF_MEMORY_EXIT if is_out_of_memory(e) else 1)
            if self.fabric.world_size > 1 and is_lost_peer(e):
                raise PeerLostError(lost_peer_message(e, self.fabric.world_size, self.run_dir)) from None
            raise
        finally:
            self.guard.signals.restore()
            self.logger.close(exit_code)

    # -- an epoch -----------------------------------------------------------------------
    def train_epoch(self, epoch: int) -> dict[str, float]:
        """One pass over `train_loader`; continues a half-done epoch where a signal stopped it."""
        cfg, fabric, loader = self.cfg, self.fabric, self.train_loader
        self.set_sampler_epoch(loader, epoch)
        self.monitor.reset()
        self.feature_monitor.reset()
        resumed = self.resume_within_epoch()
        self.begin_epoch(epoch)   # before the train loader's pass: its iterator draws from the same generator
        batches = self.batches(loader, "train")
        totals = dict(resumed.get("totals", {}))
        images, start = 0, time.perf_counter()
        bar = progress(len(loader), fabric.is_global_zero and self.verbose, f"{self.command} {epoch + 1}/{cfg.epochs}")
        bar.update(batches.consumed)
        for views, _ in batches:
            step = self.global_step
            lr = set_scheduled_lr(self.optimizer, cfg, step, self.total_steps, len(loader))
            out, metrics = self.training_step(self.prepare(views), epoch, step)
            self.model.update_momentum(momentum_schedule(cfg.ema_momentum, step, self.total_steps, cfg.ema_schedule))
            self.monitor.update(out["z"])
            self.feature_monitor.update(out["h"])
            metrics.update(loss=out["loss"].detach().float(), lr=lr)  # on the device: read back per interval
            for k, v in metrics.items():
                totals[k] = totals.get(k, 0.0) + v
            images += views[0].shape[0] * fabric.world_size
            self.global_step += 1
            if step % cfg.log_every_n_steps == 0:
                metrics["loss"] = float(metrics["loss"])
                rate = images / max(time.perf_counter() - start, 1e-9)
                self.logger.log({**{f"train/{k}": v for k, v in metrics.items() if k not in self.step_counts},
                                 "train/images_per_second": rate,
                                 **{f"train/{k}": v for k, v in self.step_log_extras().items()}}, step)
                bar.set_postfix(loss=f"{metrics['loss']:.3f}", img_s=f"{rate:.0f}", refresh=False)
            bar.update(1)
            self.step_boundary(epoch, totals=totals)  # stops here on SIGINT/SIGTERM
        bar.close()
        epoch_metrics = self.epoch_averages(totals, len(loader))
        epoch_metrics["images_per_second"] = round(images / max(time.perf_counter() - start, 1e-9), 1)
        epoch_metrics.update(self.monitor_metrics(epoch))
        return epoch_metrics

    def set_sampler_epoch(self, loader, epoch: int) -> None:
        """The shuffle of a DistributedSampler follows the epoch, also after a resume. Fabric's
        loader sets the sampler's epoch itself from how often it was iterated, a count that
        starts at 0 in a resumed process: it is set here too."""
        set_fabric_loader_passes(loader, epoch)
        sampler = getattr(loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)

    def describe_epoch(self, metrics: dict[str, Any]) -> str:
        parts = [f"epoch {metrics['epoch']}/{self.cfg.epochs}"]
        for key in ("loss", "arch_loss", "knn_top1", "collapse_std", "effective_rank", "images_per_second"):
            if key in metrics and metrics[key] is not None:
                parts.append(f"{key} {metrics[key]:.4g}")
        parts.append(f"{metrics['epoch_seconds']:.0f}s")
        return "  ".join(parts)

    # -- checkpoints --------------------------------------------------------------------
    def save(self, epoch_done: int, mid_epoch: dict[str, Any] | None = None) -> None:
        """Checkpoint after `epoch_done` epochs: epoch=N.ckpt, then last.ckpt (rank 0). With
        `mid_epoch` (this rank's position in the next epoch, see `step_boundary`), last.ckpt
        only: the epoch=N files stay whole epochs. Every rank's random generators are saved
        (ranks draw differently: their augmentations and sampled paths differ)."""
        rng_states = gathered(ckpt.rng_state())
        positions = gathered(mid_epoch) if mid_epoch is not None else None
        if self.fabric.is_global_zero:
            directory = self.run_dir / "checkpoints"
            elapsed = self.elapsed + (time.perf_counter() - self._epoch_started if positions else 0.0)
            state = {**self.state(), "epoch": epoch_done, "global_step": self.global_step, "rng": rng_states,
                     "history": self.history, "elapsed": elapsed}
            if positions is not None:
                state["mid_epoch"] = {"step": int(positions[0]["step"]), "ranks": positions}
            # epoch=N.ckpt before last.ckpt: a kill between the two then leaves last.ckpt at the epoch
            # before, and --resume redoes epoch N and writes both again. The other order let last.ckpt
            # run ahead: --resume went on from it and epoch N's own file was never written (#33, D10)
            whole_epoch = self.cfg.keep_checkpoints != 0 and positions is None
            if whole_epoch:
                ckpt.save_checkpoint(directory / f"epoch={epoch_done}.ckpt", state, self.header())
            ckpt.save_checkpoint(directory / ckpt.LAST, state, self.header())
            if whole_epoch:   # then the epoch files beyond --keep_checkpoints, the new one counted
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

    # -- stopping on a signal, and continuing mid-epoch -----------------------------------
    def batches(self, loader, name: str, endless: bool = False) -> ResumableBatches:
        """The epoch's batches of `loader` (pass after pass when `endless`), continuing where a
        run stopped mid-epoch left off; `name` tells the loaders apart in the checkpoint ("train":
        the loader whose batches count the epoch's steps)."""
        self._batches[name] = ResumableBatches(loader, endless, self._resume_positions.pop(name, None))
        return self._batches[name]

    def resume_within_epoch(self) -> dict[str, Any]:
        """At the start of every epoch, after resetting the monitors and before `batches`: the
        running sums a run stopped in this epoch had reached (empty otherwise), with the
        collapse monitors restored. The saved position is used once, by this epoch only."""
        self._batches = {}
        mid, self._resume_mid = self._resume_mid, None
        self._resume_positions = dict(mid["batches"]) if mid is not None else {}
        if mid is None:
            return {}
        for name, saved in mid["monitors"].items():
            # the monitors keep the epoch's last embeddings in chunks; restored as they were,
            # they report (and trim) exactly as in an uninterrupted run
            getattr(self, name).load_state_dict(saved)
        return dict(mid["sums"])

    def step_boundary(self, epoch: int, **sums: Any) -> None:
        """The end of a training step. On SIGINT/SIGTERM, write last.ckpt with the epoch's
        position (batches taken from each loader, the RNG state each pass began from, the
        running sums `sums`, the monitors) and stop: `--resume` continues at the next step."""
        if not self.guard.stop_at_step(epoch):
            return
        sums = {k: _to_host(v) for k, v in sums.items()}
        positions = {name: b.position() for name, b in self._batches.items() if b.position() is not None}
        monitors = {name: getattr(self, name).state_dict() for name in ("monitor", "feature_monitor")
                    if hasattr(self, name)}
        step = self._batches["train"].consumed if "train" in self._batches else 0
        self.save(epoch, {"step": step, "batches": positions, "sums": sums, "monitors": monitors})
        raise self.guard.interrupted(f"after step {step} of epoch {epoch + 1}", self.run_dir)

    # -- evaluation -----------------------------------------------------------------------
    def monitor_metrics(self, epoch: int) -> dict[str, float]:
        """The epoch's collapse metrics, of the projector output (`self.monitor`) and of the
        backbone features (`self.feature_monitor`), and kNN top-1 when it is due."""
        metrics: dict[str, float] = {}
        self.guard.settle(epoch)   # a non-finite loss stops here (exit 4), before the monitors' SVDs meet its NaNs
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
        """kNN top-1 (%) of the backbone features on the test split (rank 0; the others wait
        and get None); also sets `self.rankme`."""
        accuracy = None
        if self.evaluator is not None:
            accuracy = self.evaluator.knn()
            self.rankme = self.evaluator.rankme
        self.fabric.barrier()
        return accuracy

    def final_evaluation(self, linear: bool, logged: dict[str, Any] | None = None) -> dict[str, Any]:
        """The end-of-run metrics (`RunEvaluator.final`) on rank 0, logged to every logger with
        `logged` (a search's decisions above noise: `eval/<name>`, beside them in TensorBoard's
        HParams tab); {} on the other ranks."""
        metrics: dict[str, Any] = {}
        if self.evaluator is not None:
            metrics = self.evaluator.final(self.run_dir, linear, (self.history[-1] if self.history else {}).get("knn_top1"))
            self.rankme = self.evaluator.rankme
            # after the last step, to every logger (with --knn_every 0 the only kNN of the run)
            self.logger.log_final({f"eval/{k.removeprefix('eval_')}": v for k, v in {**metrics, **(logged or {})}.items()},
                                  self.global_step)
        self.fabric.barrier()
        return metrics


def check_ranks_agree(options: dict[str, Any], world_size: int) -> None:
    """Every process of the run was given the options rank 0 was (those that shape the training:
    not the HOW_IT_RAN ones, which may differ per node), checked once the process group is up.
    A rank with another --batch_size or --seed took other steps than its peers and waited in a
    collective forever, without a word (#33 probe 21, S12)."""
    import torch.distributed as dist

    if world_size < 2 or not dist.is_initialized():
        return
    mine = {k: v for k, v in options.items() if k not in HOW_IT_RAN}
    everyone: list[Any] = [None] * world_size
    dist.all_gather_object(everyone, mine)
    problem = ranks_disagreement(everyone)
    if problem:
        raise ConfigError(problem)


def ranks_disagreement(everyone: list[dict[str, Any]]) -> str | None:
    """Which options a process was given that rank 0 was not, in words (None when all agree)."""
    first = everyone[0]
    for rank, theirs in enumerate(everyone[1:], start=1):
        differing = sorted(k for k in first.keys() | theirs.keys() if repr(first.get(k)) != repr(theirs.get(k)))
        if differing:
            shown_options = "; ".join(f"--{k} {shown(first.get(k))} on rank 0, {shown(theirs.get(k))} on rank {rank}"
                                      for k in differing[:3])
            return (f"the processes of the run were given different options ({shown_options}"
                    f"{f', and {len(differing) - 3} more' if len(differing) > 3 else ''}); each rank must train "
                    "the same run. Start every process with the same command line")
    return None


# what gloo and NCCL say when the process at the other end of a collective is gone
LOST_PEER_WORDS = ("connection closed by peer", "connection reset by peer", "broken pipe", "remote process exited",
                   "nccl communicator was aborted", "socket timeout")


def is_lost_peer(error: BaseException) -> bool:
    """A collective failed because another process of the run stopped (killed, crashed)."""
    import torch.distributed as dist

    if not isinstance(error, RuntimeError) or isinstance(error, RunError):   # nasiam's own say what happened
        return False
    text = str(error).lower()
    return isinstance(error, getattr(dist, "DistError", ())) or any(words in text for words in LOST_PEER_WORDS)


def lost_peer_message(error: BaseException, world_size: int, run_dir: Path) -> str:
    """Rank 0 left with gloo's traceback when another rank was killed, and nothing said that the
    checkpoints were whole or how to go on (#33 probe 21, S14)."""
    detail = next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)
    return (f"another of the run's {world_size} processes stopped (killed, or crashed: see its own output), so this one "
            f"cannot go on ({shown(detail, 200)}). The checkpoints in {shown_path(run_dir / 'checkpoints')} are intact: "
            "the same command with --resume continues from the last one")


def _to_host(value: Any) -> Any:
    """Running sums kept on the device (tensors), as plain numbers for a checkpoint."""
    if isinstance(value, torch.Tensor):
        return float(value)
    if isinstance(value, dict):
        return {k: _to_host(v) for k, v in value.items()}
    return value
