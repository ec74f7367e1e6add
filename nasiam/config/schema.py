"""The run configurations' schema: one dataclass field per option and recipe key, and
how a value (a command-line string or a YAML value) is read into a field's type."""
from __future__ import annotations

import datetime
import difflib
import json
import types
import typing
from dataclasses import dataclass, field, fields
from typing import Any

from nasiam.errors import shown
from nasiam.search.policy import SearchPolicy


class ConfigError(ValueError):
    """A recipe or command-line option is invalid; the message names it and the fix."""

    @classmethod
    def from_error(cls, error: ValueError | KeyError) -> ConfigError:
        """The same message as a usage error (a KeyError's is its argument, without quotes)."""
        if isinstance(error, cls):
            return error
        return cls(error.args[0] if isinstance(error, KeyError) and error.args else str(error))


# Options that say where and how a run ran: a finished run counts in a comparison whatever they
# were (an archive moves; a rerun may log elsewhere or use other loader workers). Not all leave the
# numbers alone: each loader worker draws its own augmentations, so `nasiam sweep`, which ranks
# trials against each other, continues under another --num_workers as under another --seed: never.
HOW_IT_RAN = ("out_dir", "resume", "data_root", "download", "num_workers", "logger", "wandb", "wandb_mode",
              "wandb_project", "wandb_entity", "log_every_n_steps", "keep_checkpoints")


def _opt(default, help: str, **kw):
    return field(default=default, metadata={"help": help, **kw})


def _list(default, help: str):
    return field(default_factory=lambda: list(default), metadata={"help": help})


@dataclass
class RunConfig:
    """What every training run (search, pretrain) shares. Defaults: the CPU quick demo."""

    framework: str = _opt("simsiam", "SSL method: a registered framework (nasiam.frameworks.register_framework adds one)")
    # data
    dataset: str = _opt("fashion_mnist", "cifar10, cifar100, stl10, fashion_mnist, imagenet, imagenet100, "
                                         "imagefolder, synthetic")
    data_root: str | None = _opt(None, "dataset folder (default: Debian's Fashion-MNIST, else $NASIAM_DATA or ./data)")
    download: bool = _opt(False, "fetch a missing dataset (fashion_mnist, cifar10, cifar100, stl10) with torchvision's "
                                 "downloader into --data_root (default: $NASIAM_DATA or ./data)")
    train_split: str | None = _opt(None, "training split (default: train; stl10: train+unlabeled)")
    subset: int | None = _opt(12000, "number of training images used, drawn with the seed (none: all)")
    image_size: int | None = _opt(None, "training crop size (default: the dataset's)")
    num_workers: int = _opt(2, "DataLoader worker processes per loader")
    data_device: str = _opt("auto", "where views are made: gpu (the dataset held on the GPU as uint8, batched "
                                    "augmentation there; in-memory datasets), cpu (batched in the main process), "
                                    "workers (per-sample transforms in DataLoader workers), auto (gpu when "
                                    "training on CUDA and the dataset takes <= 1/4 of free GPU memory, else workers)")
    batch_size: int = _opt(256, "images per step and device")
    # backbone
    backbone: str = _opt("resnet10t", "timm model name (resnet10t, resnet18, resnet50, ...)")
    cifar_stem: bool = _opt(False, "3x3 stride-1 stem without max-pool (32x32 images)")
    zero_init_residual: bool | None = _opt(None, "zero-init the last BN of residual blocks (default: the method's)")
    # heads
    proj_hidden_dim: int | None = _opt(512, "projector hidden width of the standard head; the CPU demo's 512, "
                                            "`none` for the method's (SimSiam 2048); searched heads take --widths")
    proj_output_dim: int | None = _opt(512, "projector output width; the CPU demo's 512, `none` for the method's")
    pred_hidden_dim: int | None = _opt(128, "predictor hidden width (SimSiam, MoCo v3); the CPU demo's 128, `none` "
                                            "for the method's")
    proj_layers: int | None = _opt(2, "SimSiam projector layers: 3 (ImageNet) or 2 (CIFAR)")
    temperature: float | None = _opt(None, "contrastive temperature (none: the method's)")
    queue_size: int | None = _opt(4096, "MoCo v2 queue length")
    ema_momentum: float = _opt(0.99, "MoCo momentum encoder EMA (0.99 CIFAR, 0.999 ImageNet)")
    ema_schedule: str = _opt("cosine", "EMA momentum schedule: cosine (to 1) or constant")
    # optimisation
    epochs: int = _opt(8, "training epochs")
    optimizer: str = _opt("sgd", "sgd, adamw or lars (timm's; large-batch SimCLR and MoCo v3 recipes)")
    lr: float = _opt(0.05, "learning rate per 256 images (scaled by batch_size * devices * num_nodes / 256)")
    weight_decay: float = _opt(5e-4, "weight decay")
    warmup_lr_epochs: int = _opt(0, "linear learning-rate warm-up epochs before the cosine decay")
    fix_pred_lr: bool = _opt(True, "SimSiam: keep the predictor's learning rate constant")
    pred_lr_mult: float = _opt(1.0, "the predictor's learning rate as a multiple of the other weights' (SimSiam, "
                                    "MoCo v3); with --fix_pred_lr, a multiple of the constant rate")
    # machine and bookkeeping
    accelerator: str = _opt("auto", "cpu, gpu or auto")
    devices: int = _opt(1, "processes per machine (DDP over gloo on CPU, NCCL on GPU)")
    num_nodes: int = _opt(1, "machines; each runs --devices processes (under SLURM, srun starts them: "
                             "--ntasks-per-node equal to --devices)")
    sync_batchnorm: bool = _opt(False, "BatchNorm statistics over the global batch across processes (SyncBatchNorm), "
                                       "as the official SimSiam and MoCo v3 code and solo-learn do")
    precision: str = _opt("auto", "auto (bf16-mixed on GPU, 32-true on CPU), 32-true, bf16-mixed, 16-mixed")
    channels_last: bool | None = _opt(None, "channels-last memory format (default: on GPU)")
    compile: bool = _opt(False, "torch.compile the backbones and heads (fuses BatchNorm/ReLU and the mixed ops; "
                                "the first steps compile)")
    seed: int = _opt(0, "random seed (data split, init, augmentation, Gumbel noise)")
    out_dir: str = _opt("runs", "where run directories are created")
    run_name: str | None = _opt(None, "run directory name (default: <command>-<framework>-<time>)")
    resume: str | None = _opt(None, "resume the run: --resume (with --run_name), --resume=RUN_DIR|CHECKPOINT, or "
                                    "--resume=auto (with --run_name: continue if it has a checkpoint, else start; "
                                    "for requeued cluster jobs)", const="true")
    keep_checkpoints: int = _opt(3, "epoch checkpoints kept besides last.ckpt (-1: all)")
    log_every_n_steps: int = _opt(10, "metrics logging interval")
    logger: list[str] = _list(("csv",), "where metrics go: csv (logs/metrics.csv, always written), tensorboard "
                                        "(logs/tensorboard/), wandb; comma-separated")
    wandb: bool = _opt(False, "log to Weights & Biases (the same as adding wandb to --logger)")
    wandb_mode: str = _opt("auto", "W&B mode: online, offline, disabled, or auto (WANDB_MODE, else online when an "
                                   "API key is configured, else offline)")
    wandb_project: str | None = _opt(None, "W&B project (default: $WANDB_PROJECT, else nasiam)")
    wandb_entity: str | None = _opt(None, "W&B entity (default: wandb's: $WANDB_ENTITY or your default entity)")
    knn_every: int = _opt(0, "kNN accuracy every N epochs (0: only at the end)")
    knn_k: int = _opt(200, "neighbours of the kNN monitor")
    knn_subset: int | None = _opt(None, "train images in the memory bank of kNN and the linear probe (none: the whole "
                                        "training split, as lightly and solo-learn evaluate)")

    @property
    def log_sinks(self) -> list[str]:
        """--logger, with wandb added by --wandb."""
        return list(dict.fromkeys([*self.logger, *(["wandb"] if self.wandb else [])]))

    @property
    def world_size(self) -> int:
        """Processes in all: the global batch is batch_size x world_size."""
        return self.devices * self.num_nodes


@dataclass
class SearchConfig(RunConfig):
    """`nasiam search`: everything in RunConfig plus the search itself."""

    def policy(self) -> SearchPolicy:
        """The search policy these options describe (the same object the Lightning callback
        and users' loops use; its defaults are the options' defaults)."""
        if len(self.arch_betas) != 2:
            raise ConfigError(f"--arch_betas takes two numbers (beta1,beta2), got {self.arch_betas}")
        return SearchPolicy(lr=self.arch_lr, betas=tuple(self.arch_betas), weight_decay=self.arch_weight_decay, beta_weight=self.beta_weight,
                            normalize=self.arch_grad_normalize, warmup_epochs=self.warmup_epochs,
                            arch_every=self.arch_every, arch_steps_per_step=self.arch_steps_per_step)

    # The search's own budget, smaller than a pretraining run's: over seeds 300-302 on two cores it
    # found the same head, every decision above its noise floor, in 0.58x the time of 8 epochs on
    # 12,000 images (benchmarks/RESULTS.md, "The CPU demo's time").
    subset: int | None = _opt(10000, "number of training images used, drawn with the seed (none: all)")
    epochs: int = _opt(5, "training epochs (the first --warmup_epochs train only the weights)")
    strategy: str = _opt("darts", "darts (first-order), darts2 (second-order), gumbel (GDAS), tpe or random "
                                  "(one-shot supernet, then Optuna samples and scores discrete genotypes)")
    genotype_trials: int = _opt(40, "tpe/random: genotypes sampled and scored with the supernet's weights")
    trial_batches: int = _opt(4, "tpe/random: held-out architecture batches each genotype is scored on")
    mode: str = _opt("bilevel", "bilevel: logits on a held-out half of the data; joint: on the same batch, one "
                                "backward (cheaper, more prone to overfit the logits)")
    arch_every: int = _opt(SearchPolicy.arch_every, "update the logits every N weight steps (N=2 halves the extra backbone "
                               "forward; see benchmarks/RESULTS.md)")
    arch_steps_per_step: int | None = _opt(SearchPolicy.arch_steps_per_step,
                                           "updates of the logits each time they step, one per architecture batch "
                                           "among the last N (cached features: no extra backbone forward); none: 4 "
                                           "in first-order bilevel search, else 1")
    arch_fraction: float = _opt(0.5, "share of the training images that train the logits (bilevel)")
    arch_cuda_graphs: bool = _opt(False, "CUDA only: record each architecture update (the heads' loss on cached "
                                         "features with its backward, and the logits' Adam update) as CUDA graphs "
                                         "through torch.compile(mode=reduce-overhead), replayed with one launch "
                                         "where the update launches hundreds of small kernels; the first steps "
                                         "compile. darts, bilevel, one process; refused on a CPU (nothing there to graph)")
    arch_lr: float = _opt(SearchPolicy.lr, "Adam learning rate of the logits (DARTS: 3e-4 over ~20k steps; short searches "
                                     "need more: a logit moves at most this much per step)")
    arch_betas: list[float] = _list(SearchPolicy.betas, "Adam betas of the logits (DARTS: 0.5,0.999; a larger "
                                                        "beta1 averages more steps' noisy gradients)")
    arch_weight_decay: float = _opt(SearchPolicy.weight_decay, "Adam weight decay of the logits")
    beta_weight: float = _opt(SearchPolicy.beta_weight, "Beta-Decay regulariser weight relative to the normalised loss gradient, "
                                   "ramped up linearly over the search")
    arch_grad_normalize: bool = _opt(SearchPolicy.normalize, "divide the logits' loss gradient by its RMS before adding the "
                                           "regulariser (SSL losses give tiny but consistent gradients)")
    warmup_epochs: int = _opt(SearchPolicy.warmup_epochs, "epochs training only the weights before the logits move")
    tau_max: float = _opt(10.0, "Gumbel temperature at the start (gumbel strategy)")
    tau_min: float = _opt(0.1, "Gumbel temperature at the end")
    space: str = _opt("siam", "search space: siam (no width choices; the predictor one choice among DirectPred's "
                              "closed form, a trained linear map and the method's MLP), mlp (width, norm, "
                              "activation and depth per layer) or nasiam (the paper's op set)")
    widths: list[int] | None = _list((128, 256, 512, 1024), "candidate widths (mlp space); the CPU demo's "
                                     "128-1024 on Fashion-MNIST, else (none) the library's 512-4096 (MLPSpace's)")
    norms: list[str] = _list(("batchnorm", "layernorm", "none"), "candidate norms (mlp space)")
    activations: list[str] = _list(("relu", "gelu", "silu", "hardswish", "elu", "mish", "leaky_relu", "identity"),
                                   "candidate activations (mlp space)")
    allow_skip: bool = _opt(True, "search depth too: each searchable layer may be skipped (mlp space)")
    nasiam_hidden_dim: int | None = _opt(None, "nasiam space: predictor cell width (default: pred_hidden_dim)")
    projector_layers: int | None = _opt(None, "searchable projector layers (default: the standard head's hidden "
                                              "layers; nasiam space: 6)")
    predictor_layers: int | None = _opt(None, "searchable predictor layers (default: 1; nasiam space: 4)")
    predictor: str = _opt("search", "the predictor (methods with one): search (searched with the projector), default "
                                    "(the method's standard predictor, fixed: only the projector is searched) or "
                                    "directpred (DirectPred's closed form, fixed; see benchmarks/RESULTS.md); "
                                    "a fixed predictor is exported with the searched projector")
    top_k: int = _opt(3, "options recorded per decision in genotype.json")
    below_noise: str = _opt("prior", "a decision that does not rise above its noise floor: prior falls back to the "
                                     "best known head's option (the method's standard head; SimSiam's predictor "
                                     "family: DirectPred), recorded in summary.json's selection.fallbacks; argmax "
                                     "keeps noise's pick")
    collapse_min_std: float = _opt(0.05, "refuse the genotype if the normalised embedding std ends below this")
    collapse_min_rank: float = _opt(2.0, "refuse the genotype if the embedding's effective rank ends below this")
    allow_collapsed: bool = _opt(False, "export even a collapsed search's genotype")


@dataclass
class PretrainConfig(RunConfig):
    """`nasiam pretrain`: standard SSL pretraining with a fixed-architecture head."""

    head: str = _opt("default", "heads: default (the method's standard heads), a search run directory or a "
                                "genotype.json (freshly initialised); with --init the searched heads are used")
    init: str | None = _opt(None, "a search run directory: continue from its preserved backbone and head weights "
                                  "(one-stage, SSWP-NAS style) instead of random init")
    linear_probe: bool = _opt(True, "fit the linear probe at the end (converged L-BFGS logistic regression on the "
                                    "kNN memory bank's frozen features, penalty chosen on a held-out share of them, "
                                    "scored on the test split)")


# Keys that change the model or its parameters' shapes: a run can only resume under the same.
STRUCTURAL_KEYS = ("head", "init", "framework", "backbone", "cifar_stem", "dataset", "proj_hidden_dim", "proj_output_dim",
                   "pred_hidden_dim", "proj_layers", "queue_size", "space", "widths", "norms", "activations",
                   "allow_skip", "nasiam_hidden_dim", "projector_layers", "predictor_layers", "predictor", "strategy", "mode",
                   "optimizer", "devices", "num_nodes", "image_size")


# -- parsing -----------------------------------------------------------------------------
_TRUE, _FALSE, _NONE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}, {"none", "null", "~", ""}


def _base_type(annotation) -> tuple[Any, bool]:
    """(type, optional) of an annotation such as `int | None` or `list[int]`."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return inner[0], True
    return annotation, False


def parse_value(name: str, raw: Any, annotation) -> Any:
    """Convert `raw` (a string from the command line, or a YAML value) to the field's type."""
    kind, optional = _base_type(annotation)
    if raw is None or (isinstance(raw, str) and raw.strip().lower() in _NONE and kind is not str):
        if optional:
            return None
        raise ConfigError(f"--{name}: a value is required")
    if isinstance(raw, str) and optional and raw.strip().lower() in ("none", "null") and kind is str:
        return None
    try:
        if typing.get_origin(kind) is list:
            item = typing.get_args(kind)[0]
            if isinstance(raw, str):
                text = raw.strip()
                raw = json.loads(text) if text.startswith("[") else [v for v in text.split(",") if v.strip()]
            if not isinstance(raw, (list, tuple)):
                raise ValueError("expected a list")
            return [parse_value(name, v.strip() if isinstance(v, str) else v, item) for v in raw]
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError("expected true or false")
        if kind is int:
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError("expected an integer")
            return int(float(raw)) if isinstance(raw, str) and "e" in raw.lower() else int(raw)
        if kind is float:
            if isinstance(raw, bool):
                raise ValueError("expected a number")
            return float(raw)
        if kind is str:
            if isinstance(raw, datetime.date):   # `run_name: 2026-12-07` in a recipe
                raise ValueError(f"YAML reads an unquoted date as a date: quote it, e.g. '{raw}'")
            if not isinstance(raw, (str, int, float)):
                raise ValueError("expected a string")
            return str(raw)
    except (ValueError, TypeError, OverflowError, json.JSONDecodeError) as e:  # OverflowError: int("1e400")
        raise ConfigError(f"--{name}: cannot read {shown(raw)} ({str(e)[:100]})") from None
    raise ConfigError(f"--{name}: unsupported option type {kind}")


def _suggest(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key.replace("-", "_"), known, n=2)
    return f"; did you mean {' or '.join(close)}?" if close else ""


def field_types(cls) -> dict[str, Any]:
    """Field name -> resolved type (the annotations are strings under postponed evaluation)."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in fields(cls)}
