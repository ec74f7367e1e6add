"""Where metrics go: a CSV file always (`logs/metrics.csv`, wide as Lightning's CSVLogger
writes it); TensorBoard (through Lightning Fabric's logger) and Weights & Biases when asked
(`--logger csv,tensorboard,wandb`; W&B offline unless an API key is configured, so a run never
needs the network); and a progress bar on the console.

TensorBoard and W&B show the same things: the metrics, the search's per-option probabilities
(`prob/<head>/layer<i>/<choice>/<option>`), each epoch's most probable genotype as text
(`argmax/<head>`) and the exported one at the end (`genotype/<head>`), the alpha figures as images,
and the final evaluation (`eval/*`), which TensorBoard's HParams tab shows beside the run's
configuration."""
from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urlparse

from nasiam._io import atomic_write_bytes
from nasiam._progress import progress

__all__ = ["RunLogger", "MetricsCSV", "read_metrics", "wandb_mode", "progress"]


class MetricsCSV:
    """`logs/metrics.csv` in wide form, as Lightning's CSVLogger writes it: a `step` column,
    then one column per metric (A-Z), one row per step, empty where a metric was not logged.
    Holds `train/*` every `--log_every_n_steps` steps, `epoch/*` at each epoch's last step and
    `eval/*` after the last step; the per-option probabilities are in `alphas.csv`.

    Flushed at every call, so a killed run keeps every row it logged. Calls at the last row's
    step fill in that row. A new metric rewrites the file with the wider header (atomically, as
    Lightning does). A resumed run keeps the rows before the resumed step, which Lightning's
    CSVLogger would delete.
    """

    def __init__(self, path: Path, resume_step: int | None = None):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.columns: list[str] = ["step"]
        rows: list[dict[str, str]] = []
        if resume_step is not None and path.exists():
            header, rows = _read_rows(path)
            rows = [row for row in rows if int(row["step"]) < resume_step]
            self.columns = ["step"] + sorted({c for c in header if c != "step"} | {k for r in rows for k in r} - {"step"})
        self._rewrite(rows)
        self._last: dict[str, Any] | None = None   # the last row: calls at its step fill it in
        self._last_offset = 0                      # where it starts in the file

    def _rewrite(self, rows: list[Mapping[str, Any]]) -> None:
        atomic_write_bytes(self.path, b"".join(self._line(r) for r in [dict(zip(self.columns, self.columns)), *rows]))
        self._file = open(self.path, "ab")

    def _line(self, row: Mapping[str, Any]) -> bytes:
        buffer = io.StringIO()
        csv.writer(buffer).writerow(["" if row.get(c) is None else row[c] for c in self.columns])
        return buffer.getvalue().encode()

    def log(self, metrics: Mapping[str, Any], step: int) -> None:
        values = {name: _number(v) for name, v in metrics.items() if v is not None}
        if not values:
            return
        merge = self._last is not None and self._last["step"] == step and not values.keys() & self._last.keys()
        row = {**self._last, **values} if merge else {"step": step, **values}
        new = sorted(set(values) - set(self.columns))
        if new:   # a wider header: the whole file again, this row included
            _, rows = _read_rows(self.path)
            if merge:
                rows = rows[:-1]
            self.columns = ["step"] + sorted(set(self.columns[1:]) | set(new))
            self._file.close()
            self._rewrite([*rows, row])
            self._last_offset = self._file.tell() - len(self._line(row))
        else:
            if merge:
                self._file.seek(self._last_offset)
                self._file.truncate()
            self._last_offset = self._file.tell()
            self._file.write(self._line(row))
        self._file.flush()  # a killed run keeps every row it logged, so --resume continues the history
        self._last = row

    def close(self) -> None:
        self._file.close()


def _number(value: Any) -> Any:
    if hasattr(value, "item"):   # a tensor or a numpy scalar
        value = value.item()
    return int(value) if isinstance(value, bool) else value


def _read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the rows of a metrics.csv (empty cells left out)."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        header = list(reader.fieldnames or ["step"])
    return header, [{k: v for k, v in r.items() if v not in ("", None)} for r in rows]


def read_metrics(path: str | os.PathLike) -> list[dict[str, float]]:
    """The rows of a run's `logs/metrics.csv`, `step` an int and the metrics floats."""
    _, rows = _read_rows(Path(path))
    return [{k: (int(v) if k == "step" else float(v)) for k, v in r.items()} for r in rows]


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
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or "api.wandb.ai"
    netrc = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    with contextlib.suppress(OSError):
        if host in netrc.read_text():
            return "online"
    return "offline"


class RunLogger:
    """Fans metrics out to the CSV file and, when enabled, TensorBoard and W&B (rank 0 only)."""

    def __init__(self, run_dir: Path, enabled: bool, config: Mapping[str, Any], sinks: Iterable[str] = ("csv",),
                 project: str | None = None, entity: str | None = None, run_name: str | None = None,
                 resume_step: int | None = None, mode: str = "auto"):
        self.enabled = enabled
        self.csv = self.tensorboard = self.wandb_run = None
        self.config = {k: v for k, v in config.items() if v is not None}   # TensorBoard's hparams, at the end
        if not enabled:
            return
        sinks = set(sinks)
        self.csv = MetricsCSV(run_dir / "logs" / "metrics.csv", resume_step)
        if "tensorboard" in sinks:
            from lightning_fabric.loggers import TensorBoardLogger

            # logs/tensorboard/: `tensorboard --logdir runs` shows every run by its directory name
            # the hyperparameters go in with the final metrics (`log_final`): the HParams tab
            # takes its metric columns from the one record that names them
            self.tensorboard = TensorBoardLogger(root_dir=str(run_dir / "logs"), name="tensorboard", version="",
                                                 default_hp_metric=False)
        if "wandb" in sinks:
            import wandb

            from nasiam.config import check_wandb_name

            # project/entity None: wandb resolves them (WANDB_PROJECT, WANDB_ENTITY, its settings);
            # --wandb_project was checked with the options, $WANDB_PROJECT is checked here
            if not project:
                check_wandb_name("WANDB_PROJECT (the environment variable)", os.environ.get("WANDB_PROJECT"))
            self.wandb_run = wandb.init(project=project or os.environ.get("WANDB_PROJECT") or "nasiam",
                                        entity=entity, name=run_name, dir=str(run_dir), config=dict(config),
                                        mode=wandb_mode(mode), id=_wandb_id(run_dir),
                                        resume="allow" if resume_step is not None else None, reinit="finish_previous")

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        if not self.enabled:
            return
        self.csv.log(metrics, step)
        if self.tensorboard is not None:
            self.tensorboard.log_metrics(dict(metrics), step=step)
        if self.wandb_run is not None:
            self.wandb_run.log(dict(metrics), step=step)

    def log_epoch(self, metrics: Mapping[str, Any], step: int) -> None:
        """An epoch's numbers as `epoch/<name>` to every logger, and to W&B under their own names
        too: a W&B sweep reads its metric by the sweep file's name (`metric: {name: knn_top1}`),
        from the history (hyperband) and the summary (bayes); under `epoch/knn_top1` alone its
        early_terminate would see no value."""
        numbers = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
        self.log({f"epoch/{k}": v for k, v in numbers.items()}, step)
        if self.wandb_run is not None:   # None unless enabled
            self.wandb_run.log(numbers, step=step)

    def log_final(self, metrics: Mapping[str, Any], step: int) -> None:
        """The end-of-run metrics to every logger; TensorBoard gets them with the config as hparams."""
        metrics = {k: _number(v) for k, v in metrics.items() if v is not None}
        if not self.enabled or not metrics:
            return
        self.csv.log(metrics, step)
        if self.tensorboard is not None:   # the scalars and the hparams record, at `step`
            self.tensorboard.log_hyperparams(self.config, metrics=metrics, step=step)
        if self.wandb_run is not None:
            self.wandb_run.log(metrics, step=step)

    def log_view(self, values: Mapping[str, Any], step: int) -> None:
        """What the dashboards show but metrics.csv leaves to other files (the per-option
        probabilities of alphas.csv, the genotype of genotype.json): numbers as TensorBoard
        scalars, text as TensorBoard text, both to W&B."""
        if self.tensorboard is not None:
            writer = self.tensorboard.experiment
            for name, value in values.items():
                if isinstance(value, str):
                    writer.add_text(name, value, step)
                else:
                    writer.add_scalar(name, _number(value), step)
        if self.wandb_run is not None:
            self.wandb_run.log(dict(values), step=step)

    def log_figures(self, figures: Mapping[str, Callable[[], Any]], step: int) -> None:
        """Matplotlib figures, made by the callables only when TensorBoard or W&B is on, as
        images: the PNG nasiam writes to disk, decoded once for both."""
        if self.tensorboard is None and self.wandb_run is None:
            return
        import numpy as np
        from PIL import Image

        from nasiam.runner.outputs import figure_png

        for name, make in figures.items():
            image = Image.open(io.BytesIO(figure_png(make()))).convert("RGB")
            if self.tensorboard is not None:
                self.tensorboard.experiment.add_image(name, np.asarray(image), step, dataformats="HWC")
            if self.wandb_run is not None:
                import wandb

                self.wandb_run.log({name: wandb.Image(image)}, step=step)

    def log_wandb(self, payload: Mapping[str, Any], step: int) -> None:
        """Rich objects (images, tables) for W&B only; `payload` values may be callables
        producing them, evaluated only when W&B is on."""
        if self.wandb_run is not None:
            self.wandb_run.log({k: (v() if callable(v) else v) for k, v in payload.items()}, step=step)

    def summary(self, values: Mapping[str, Any]) -> None:
        if self.wandb_run is not None:
            # commit the step's pending row first: flushed at finish, its values (the last epoch's
            # argmax genotype) would replace these (the genotype a prior fallback exported)
            self.wandb_run.log({}, commit=True)
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
        """W&B and TensorBoard mark the run failed when `exit_code` is not 0."""
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
    return hashlib.sha1(str(run_dir.resolve()).encode()).hexdigest()[:16]
