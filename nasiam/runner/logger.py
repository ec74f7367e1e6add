"""Where metrics go: a CSV file always, Weights & Biases when asked (offline unless an API
key is configured, so a run never needs the network), and a progress bar on the console."""
from __future__ import annotations

import csv
import os
import sys
from pathlib import Path
from typing import Any, Mapping

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


def wandb_mode() -> str:
    """'online' only when an API key is available without asking the network; the user's
    WANDB_MODE wins."""
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    if os.environ.get("WANDB_API_KEY"):
        return "online"
    netrc = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    try:
        if "api.wandb.ai" in netrc.read_text():
            return "online"
    except OSError:
        pass
    return "offline"


class RunLogger:
    """Fans metrics out to the CSV logger and, when enabled, to a W&B run (rank 0 only)."""

    def __init__(self, run_dir: Path, enabled: bool, config: Mapping[str, Any], use_wandb: bool,
                 project: str = "nasiam", entity: str | None = None, run_name: str | None = None,
                 resume_step: int | None = None):
        self.enabled = enabled
        self.csv = None
        self.wandb_run = None
        if not enabled:
            return
        resume = resume_step is not None
        self.csv = MetricsCSV(run_dir / "logs" / "metrics.csv", resume_step)
        if use_wandb:
            try:
                import wandb
            except ImportError:
                raise ImportError("--wandb needs the wandb package: pip install 'nasiam[wandb]'") from None

            self.wandb_run = wandb.init(project=project, entity=entity, name=run_name, dir=str(run_dir),
                                        config=dict(config), mode=wandb_mode(), id=_wandb_id(run_dir),
                                        resume="allow" if resume else None, reinit="finish_previous")

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        if not self.enabled:
            return
        self.csv.log(metrics, step)
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

    def close(self) -> None:
        if self.csv is not None:
            self.csv.close()
            self.csv = None
        if self.wandb_run is not None:
            self.wandb_run.finish()
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
