"""Where metrics go: a CSV file always; TensorBoard (through Lightning Fabric's logger) and
Weights & Biases when asked (`--logger csv,tensorboard,wandb`; W&B offline unless an API key is
configured, so a run never needs the network); and a progress bar on the console."""
from __future__ import annotations

import csv
import os
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping

__all__ = ["RunLogger", "MetricsCSV", "wandb_mode"]


class MetricsCSV:
    """`logs/metrics.csv` in long form (step, name, value), appended as the run goes.

    Long form keeps one header whatever metrics appear; appending keeps the history of a
    resumed run, whose rows past the resumed step (the epoch being redone) are dropped first.
    Lightning's CSVLogger would delete the earlier rows on resume.
    """

    def __init__(self, path: Path, resume_step: int | None = None):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if resume_step is not None and path.exists():
            with open(path, newline="") as f:
                kept = [row for row in csv.DictReader(f) if int(row["step"]) < resume_step]
            with open(path, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=["step", "name", "value"])
                writer.writeheader()
                writer.writerows(kept)
        elif not path.exists() or resume_step is None:
            path.write_text("step,name,value\n")
        self._file = open(path, "a", newline="")
        self._writer = csv.writer(self._file)

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        self._writer.writerows([step, name, value] for name, value in metrics.items())
        self._file.flush()  # a killed run keeps every row it logged, so --resume continues the history

    def close(self) -> None:
        self._file.close()


def wandb_mode(option: str = "auto") -> str:
    """`--wandb_mode` when set; else the user's WANDB_MODE; else 'online' only when an API key
    is available without asking the network (WANDB_API_KEY, or a netrc entry for the server
    in WANDB_BASE_URL: api.wandb.ai or a self-hosted one), 'offline' otherwise."""
    if option != "auto":
        return option
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    if os.environ.get("WANDB_API_KEY"):
        return "online"
    from urllib.parse import urlparse

    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or "api.wandb.ai"
    netrc = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    try:
        if host in netrc.read_text():
            return "online"
    except OSError:
        pass
    return "offline"


class RunLogger:
    """Fans metrics out to the CSV logger and, when enabled, to TensorBoard and a W&B run
    (rank 0 only)."""

    def __init__(self, run_dir: Path, enabled: bool, config: Mapping[str, Any], sinks: Iterable[str] = ("csv",),
                 project: str | None = None, entity: str | None = None, run_name: str | None = None,
                 resume_step: int | None = None, mode: str = "auto"):
        self.enabled = enabled
        self.csv = None
        self.tensorboard = None
        self.wandb_run = None
        if not enabled:
            return
        sinks = set(sinks)
        resume = resume_step is not None
        self.csv = MetricsCSV(run_dir / "logs" / "metrics.csv", resume_step)
        if "tensorboard" in sinks:
            from lightning_fabric.loggers import TensorBoardLogger

            # logs/tensorboard/: `tensorboard --logdir runs` shows every run by its directory name
            self.tensorboard = TensorBoardLogger(root_dir=str(run_dir / "logs"), name="tensorboard", version="",
                                                 default_hp_metric=False)
            self.tensorboard.log_hyperparams({k: v for k, v in config.items() if v is not None})
        if "wandb" in sinks:
            import wandb

            # project/entity None: wandb resolves them (WANDB_PROJECT, WANDB_ENTITY, its settings)
            self.wandb_run = wandb.init(project=project or os.environ.get("WANDB_PROJECT") or "nasiam",
                                        entity=entity, name=run_name, dir=str(run_dir), config=dict(config),
                                        mode=wandb_mode(mode), id=_wandb_id(run_dir),
                                        resume="allow" if resume else None, reinit="finish_previous")

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        if not self.enabled:
            return
        self.csv.log(metrics, step)
        if self.tensorboard is not None:
            self.tensorboard.log_metrics(dict(metrics), step=step)
        if self.wandb_run is not None:
            self.wandb_run.log(dict(metrics), step=step)

    def log_wandb(self, payload: Mapping[str, Any], step: int) -> None:
        """Rich objects (images, tables) for W&B only; `payload` values may be callables
        producing them, evaluated only when W&B is on."""
        if self.wandb_run is not None:
            self.wandb_run.log({k: (v() if callable(v) else v) for k, v in payload.items()}, step=step)

    def summary(self, values: Mapping[str, Any]) -> None:
        if self.wandb_run is not None:
            self.wandb_run.summary.update(dict(values))

    def log_run_artifact(self, run_dir: Path, kind: str, metadata: Mapping[str, Any]) -> None:
        """The run's heads, genotype and backbone as a W&B model artifact (see wandb_artifacts)."""
        if self.wandb_run is not None:
            from nasiam.runner.wandb_artifacts import log_run_artifact

            log_run_artifact(self.wandb_run, run_dir, kind, metadata)

    def use_artifact(self, reference: str) -> None:
        """Record a W&B artifact this run started from (lineage: search -> pretrain). An
        offline run cannot look the artifact up; it keeps the reference in its config."""
        if self.wandb_run is not None and not getattr(self.wandb_run, "offline", False):
            self.wandb_run.use_artifact(reference, type="model")

    def close(self, exit_code: int = 0) -> None:
        """`exit_code` is the run's (0, or its error's: 3 for a collapsed search, ...): W&B marks
        the run failed when it is not 0."""
        if self.csv is not None:
            self.csv.close()
            self.csv = None
        if self.tensorboard is not None:
            self.tensorboard.finalize("success" if exit_code == 0 else "failed")
            self.tensorboard = None
        if self.wandb_run is not None:
            self.wandb_run.finish(exit_code=exit_code)
            self.wandb_run = None


def _wandb_id(run_dir: Path) -> str:
    """A stable id per run directory, so a resumed run continues the same W&B run."""
    import hashlib

    return hashlib.sha1(str(run_dir.resolve()).encode()).hexdigest()[:16]


def progress(total: int, enabled: bool, description: str):
    from tqdm.auto import tqdm

    # only on a terminal: in logs (CI, nohup) the per-epoch line says it all
    return tqdm(total=total, disable=not (enabled and sys.stderr.isatty()), desc=description, dynamic_ncols=True,
                leave=False, mininterval=0.5)
