"""Run configurations: dataclasses whose fields are the CLI options and the recipe keys.

Precedence: field defaults < `--config recipe.yaml` (several `--config` files: later ones
override earlier ones) < command-line `--key=value` (also `--key value` and `--key-with-dashes`,
the forms `wandb agent` passes). Recipes are read with `yaml.safe_load` and checked key by key:
a misspelt key is an error that suggests the right one, never silently ignored. A recipe's
`base: other.yaml` key (a path relative to the recipe) reads that recipe first and overrides it.
"""
from __future__ import annotations

import dataclasses
import difflib
import importlib.util
import json
import os
import re
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from nasiam.errors import shown
from nasiam.search.policy import SearchPolicy
from nasiam.space.mlp import DEFAULT_WIDTHS

__all__ = ["RunConfig", "SearchConfig", "PretrainConfig", "ConfigError", "load_config", "config_to_yaml", "parse_value",
           "STRUCTURAL_KEYS", "field_types", "config_choices", "PRECISION_ALIASES",
           "require_package", "BOUNDS", "check_bounds", "check_resources", "read_yaml_file", "REMOVED_OPTIONS",
           "REMOVED_SELECTION"]

# Lightning's short precision names, accepted and stored under their long names.
PRECISION_ALIASES = {"16": "16-mixed", "bf16": "bf16-mixed", "32": "32-true"}
MAX_RECIPE_DEPTH = 8  # `base:` chains longer than this are refused
LOGGERS = ("csv", "tensorboard", "wandb")


class ConfigError(ValueError):
    """A recipe or command-line option is invalid; the message names it and the fix."""

    @classmethod
    def from_error(cls, error: ValueError | KeyError) -> ConfigError:
        """The same message as a usage error (a KeyError's is its argument, without quotes)."""
        if isinstance(error, cls):
            return error
        return cls(error.args[0] if isinstance(error, KeyError) and error.args else str(error))


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

    strategy: str = _opt("darts", "darts (first-order), darts2 (second-order), gumbel (GDAS), tpe or random "
                                  "(one-shot supernet, then Optuna samples and scores discrete genotypes)")
    genotype_trials: int = _opt(40, "tpe/random: genotypes sampled and scored with the supernet's weights")
    trial_batches: int = _opt(4, "tpe/random: held-out architecture batches each genotype is scored on")
    mode: str = _opt("bilevel", "bilevel: logits on a held-out half of the data; joint: on the same batch, one "
                                "backward (cheaper, more prone to overfit the logits)")
    arch_every: int = _opt(SearchPolicy.arch_every, "update the logits every N weight steps (N=2 halves the extra backbone "
                               "forward; see benchmarks/RESULTS.md)")
    arch_steps_per_step: int | None = _opt(SearchPolicy.arch_steps_per_step,
                                           "bilevel, first order: updates of the logits each time they step, one "
                                           "per architecture batch among the last N (their backbone features are "
                                           "cached: no extra backbone forward); none: 4 where the search can "
                                           "(first-order bilevel), else 1")
    arch_fraction: float = _opt(0.5, "share of the training images that train the logits (bilevel)")
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
    space: str = _opt("mlp", "search space: mlp, siam (no width choices; the predictor one choice among DirectPred's "
                             "closed form, a trained linear map and the method's MLP) or nasiam (the paper's op set)")
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
                                    "directpred (DirectPred's closed-form predictor, fixed; measured +2.04 linear-"
                                    "probe points over the default on the CPU protocol, see benchmarks/RESULTS.md); "
                                    "a fixed predictor is exported with the searched projector")
    top_k: int = _opt(3, "options recorded per decision in genotype.json")
    below_noise: str = _opt("argmax", "a decision that does not rise above its noise floor: argmax keeps noise's "
                                      "pick; prior falls back to the best known head's option (the method's "
                                      "standard head; SimSiam's predictor family: DirectPred), recorded in "
                                      "summary.json's selection.fallbacks")
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


# The bounds of every numeric option, in one place: (lowest, highest), inclusive; None: no
# bound on that side. They keep a typo or a hostile value from sizing memory, processes, files
# or time beyond reason before anything is allocated (the machine's own resources are checked
# apart, in `check_resources`). Widths and layer counts share the genotype format's limits.
_MAX_WIDTH, _MAX_LAYERS = 1 << 16, 64   # = nasiam.space.genotype.MAX_WIDTH, MAX_LAYERS (not imported: torch)
BOUNDS: dict[str, tuple[float | None, float | None]] = {
    "subset": (1, 10 ** 9), "image_size": (8, 1024), "num_workers": (0, 128), "batch_size": (2, 1 << 16),
    "proj_hidden_dim": (1, _MAX_WIDTH), "proj_output_dim": (1, _MAX_WIDTH), "pred_hidden_dim": (1, _MAX_WIDTH),
    "proj_layers": (1, _MAX_LAYERS), "temperature": (1e-4, 100.0), "queue_size": (1, 1 << 24),
    "ema_momentum": (0.0, 1.0), "epochs": (1, 100_000), "lr": (0.0, 1e4), "weight_decay": (0.0, 10.0),
    "warmup_lr_epochs": (0, 100_000), "devices": (1, 1024), "num_nodes": (1, 4096), "seed": (0, 2 ** 32 - 1),
    "keep_checkpoints": (-1, 100_000), "log_every_n_steps": (1, 10 ** 9), "knn_every": (0, 100_000),
    "knn_k": (1, 10_000), "knn_subset": (1, 10 ** 9), "pred_lr_mult": (0.0, 1e3),
    # search
    "genotype_trials": (1, 100_000), "trial_batches": (1, 10_000), "arch_every": (1, 10_000), "arch_steps_per_step": (1, 64),
    "arch_lr": (0.0, 100.0), "arch_weight_decay": (0.0, 10.0), "beta_weight": (0.0, 1e4), "warmup_epochs": (0, 100_000),
    "tau_max": (1e-3, 1e4), "tau_min": (1e-3, 1e4), "nasiam_hidden_dim": (1, _MAX_WIDTH),
    "projector_layers": (1, _MAX_LAYERS), "predictor_layers": (1, _MAX_LAYERS), "top_k": (1, 100),
    "collapse_min_std": (0.0, 1e3), "collapse_min_rank": (0.0, 1e6),
}


def check_bounds(config: RunConfig) -> None:
    """Every numeric option within BOUNDS (and finite: NaN fails every comparison)."""
    for name, (low, high) in BOUNDS.items():
        if not hasattr(config, name):
            continue
        value = getattr(config, name)
        if value is None or isinstance(value, bool):
            continue
        if not ((low is None or value >= low) and (high is None or value <= high)):
            span = f"between {low:g} and {high:g}" if low is not None and high is not None else \
                f"at least {low:g}" if low is not None else f"at most {high:g}"
            raise ConfigError(f"--{name} must be {span}, got {shown(value)}")


def _total_memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def head_parameters_bound(config: RunConfig) -> int:
    """An upper estimate of the heads' parameters, before anything is built: every layer a
    Linear from max(width, 4096) inputs (the widest backbones here give 2048) to its width."""
    widths = list(getattr(config, "widths", None) or DEFAULT_WIDTHS)
    dims = [d for d in (config.proj_hidden_dim, config.proj_output_dim, config.pred_hidden_dim,
                        getattr(config, "nasiam_hidden_dim", None)) if d]
    widest = max(widths + dims + [2048])
    layers = (getattr(config, "projector_layers", None) or config.proj_layers or 3) + \
        (getattr(config, "predictor_layers", None) or 2) + 2
    return layers * max(widest, 4096) * widest


def check_resources(config: RunConfig) -> None:
    """Options that size this machine's processes and memory, against what it has: --devices
    against its cores or GPUs, several nodes only inside a cluster job, and the heads' and the
    queue's memory against the machine's RAM."""
    cpus = os.cpu_count() or 1
    gpu = config.accelerator == "gpu" or (config.accelerator == "auto" and _cuda_count() > 0)
    if gpu:
        available = _cuda_count()
        if available and config.devices > available:
            raise ConfigError(f"--devices={config.devices}: this machine has {available} GPU(s); one process runs per "
                              "GPU, so use at most that many")
    elif config.devices > cpus:
        raise ConfigError(f"--devices={config.devices} on the CPU starts one process per device, and this machine "
                          f"has {cpus} cores: use at most {cpus} (each process already uses several threads)")
    if config.num_nodes > 1 and not (os.environ.get("SLURM_JOB_ID") or
                                     (os.environ.get("MASTER_ADDR") and os.environ.get("NODE_RANK") is not None)):
        raise ConfigError(f"--num_nodes={config.num_nodes} outside a cluster job: nasiam would wait for nodes that "
                          "never come. Launch it with srun inside a SLURM allocation, or set MASTER_ADDR, MASTER_PORT "
                          "and NODE_RANK on every node (torchrun-style)")
    memory = _total_memory_bytes()
    if memory:
        heads = head_parameters_bound(config) * 16   # weights, gradients, two optimiser moments in float32
        method = _framework_class(config.framework)
        state = method.state_bytes(config)   # what the method keeps beside its weights (MoCo v2's queue)
        limit = memory // 2
        if heads + state > limit:
            held = method.state_options if state else {}
            sized_by = "--widths, the *_dim and *_layers options" + "".join(f" and --{o}" for o in held)
            raise ConfigError(f"{sized_by}: the heads{''.join(f' and {what}' for what in held.values())} would need "
                              f"{_over_limit(heads + state, limit, memory)}; lower them")


def _over_limit(need: int, limit: int, memory: int) -> str:
    """"about N GiB, more than the L GiB limit (half of this machine's M GiB)", with as many
    decimals (up to 3) as it takes for N to read larger than L: 12.3 GiB over a 12 GiB limit
    is not "about 12 GiB, more than half of 24 GiB"."""
    for decimals in range(4):
        n, b, m = (f"{size / 2 ** 30:.{decimals}f}" for size in (need, limit, memory))
        if float(n) > float(b):
            return f"about {n} GiB, more than the {b} GiB limit (half of this machine's {m} GiB)"
    return f"just over the {b} GiB limit (half of this machine's {m} GiB)"


def _cuda_count() -> int:
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return 0
    import torch

    try:
        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except RuntimeError:
        return 0


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


MAX_RECIPE_BYTES = 1 << 20
_OPTION_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,47}$")


def read_yaml_file(path: Path, what: str) -> Any:
    """A recipe's or sweep's YAML (`yaml.safe_load`: no code runs), refusing what cannot be one:
    over 1 MiB, not UTF-8, nested past the parser's recursion limit. Errors give the position,
    never the file's text (the path may name any file, e.g. a `base:` that leads astray)."""
    import yaml

    size = path.stat().st_size
    if size > MAX_RECIPE_BYTES:
        raise ConfigError(f"{path}: {size} bytes is too large for a {what} (at most {MAX_RECIPE_BYTES})")
    try:
        return yaml.safe_load(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text, so not a {what} (a YAML file)") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a {what}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigError(f"{path}: not valid YAML ({getattr(e, 'problem', None) or 'a parse error'}{where})") from None


# Search options that no longer exist, as a run directory's config.yaml from before their
# removal still holds them: `selection` chose the exported genotype (verify measured worse than
# argmax, probe was never validated: benchmarks/RESULTS.md), `verify_*` configured those two.
# A file's `selection: argmax` is what every search now does, so it and the verify_* settings
# (unread under argmax) are skipped; a file asking for verify or probe is refused.
REMOVED_OPTIONS = ("selection", "verify_top_k", "verify_epochs", "verify_samples")
REMOVED_SELECTION = ("--selection was removed: a search exports each decision's most probable option (what "
                "--selection=argmax did; --below_noise=prior falls back to the best known head's option)")


def _removed_option(name: str, value: Any, where: str) -> bool:
    """Whether `name` is a removed search option of a file that can be skipped (see
    REMOVED_OPTIONS); a ConfigError naming `where` and the fix when its value asked for more."""
    if name not in REMOVED_OPTIONS:
        return False
    if name == "selection" and str(value).strip().lower() != "argmax":
        raise ConfigError(f"{where}: selection: {shown(value)} is no longer available. {REMOVED_SELECTION}; verify "
                          "measured worse than argmax and probe was never validated (benchmarks/RESULTS.md). "
                          "Delete the `selection` key; a run searched with it keeps the heads it exported.")
    return True


def _read_recipe(path: str | os.PathLike, cls, _chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        where = f" (the base of {_chain[-1]})" if _chain else ""
        raise ConfigError(f"--config: no recipe at {path}{where} (see the recipes/ folder)")
    resolved = path.resolve()
    if resolved in _chain:
        raise ConfigError(f"{path}: recipes inherit in a cycle via `base:` "
                          f"({' -> '.join(str(p) for p in _chain + (resolved,))})")
    if len(_chain) >= MAX_RECIPE_DEPTH:
        raise ConfigError(f"{path}: more than {MAX_RECIPE_DEPTH} levels of `base:` recipes")
    data = read_yaml_file(path, "recipe") or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a recipe is a mapping of option: value")
    known = field_types(cls)
    values = {}
    base = data.pop("base", None)
    if base is not None:
        if not isinstance(base, str) or not base.strip() or Path(base).is_absolute():
            raise ConfigError(f"{path}: `base:` names another recipe file by a path relative to this one (not an "
                              "absolute path)")
        values.update(_read_recipe(path.parent / base, cls, _chain + (resolved,)))
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name not in known and issubclass(cls, SearchConfig) and _removed_option(name, value, str(path)):
            continue
        if name not in known:
            if not _OPTION_LIKE.match(str(key)):   # never echo what may be another file's content
                raise ConfigError(f"{path}: holds keys that are no option names; is it a nasiam recipe?")
            raise ConfigError(f"{path}: unknown key {key!r}{_suggest(name, list(known))}")
        values[name] = parse_value(name, value, known[name])
    return values


# The CPU demo's scale: a 12,000-image subset, 512-wide heads, a 4,096-long MoCo queue. It
# belongs to the demo's datasets only; a run on any other dataset starts from the method's
# defaults for these (all of its images, the method's widths and queue) unless an option or a
# recipe sets them, so that `--dataset imagenet100` never trains silently on 12,000 images.
DEMO_DATASETS = ("fashion_mnist", "synthetic")
DEMO_SCALE = ("subset", "proj_hidden_dim", "proj_output_dim", "pred_hidden_dim", "queue_size", "widths")


def demo_scale_note(config: RunConfig) -> str | None:
    """The line a run prints first when the demo's scale applies to it, else None."""
    if config.dataset not in DEMO_DATASETS:
        return None
    defaults = {f.name: f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
                for f in fields(config) if f.name in DEMO_SCALE}
    kept = {name: value for name, value in defaults.items() if getattr(config, name) == value}
    if "subset" not in kept and not any(k.endswith("_dim") for k in kept):
        return None
    parts = []
    if "subset" in kept:
        parts.append(f"{kept['subset']:,} training images")
    dims = [f"--{k} {v}" for k, v in kept.items() if k.endswith("_dim")]
    if "widths" in kept:
        dims.append(f"--widths {','.join(map(str, kept['widths']))}")
    if dims:
        parts.append("heads " + ", ".join(dims))
    return (f"CPU demo scale ({config.dataset}): {'; '.join(parts)}. Other datasets start from the method's "
            "defaults (all images, its widths); here `--subset none` and `--proj_hidden_dim none` etc. give them.")


def load_config(cls, config_path: str | os.PathLike | typing.Sequence[str | os.PathLike] | None = None,
                overrides: Mapping[str, Any] | None = None, check_environment: bool = True):
    """Build `cls` from its defaults, recipes (one path or several, later ones override earlier
    ones), then overrides (strings or values). `check_environment` also checks the options
    against this machine: the optional packages they need, and `check_resources`."""
    known = field_types(cls)
    paths = [config_path] if isinstance(config_path, (str, os.PathLike)) else list(config_path or [])
    values = {}
    for path in paths:
        values.update(_read_recipe(path, cls))
    for key, raw in (overrides or {}).items():
        name = key.replace("-", "_")
        if name in REMOVED_OPTIONS and issubclass(cls, SearchConfig):
            raise ConfigError(f"--{key}: {REMOVED_SELECTION}; drop --{key}")
        if name not in known:
            raise ConfigError(f"unknown option --{key}{_suggest(name, list(known))}")
        values[name] = parse_value(name, raw, known[name])
    if values.get("dataset", cls.dataset) not in DEMO_DATASETS:   # the method's scale, not the demo's
        for name in DEMO_SCALE:
            if name in known:   # pretrain has no --widths
                values.setdefault(name, None)
    config = cls(**values)
    validate_config(config)
    if check_environment:   # this machine: its packages, cores, GPUs, memory and cluster environment
        check_packages(config)
        check_resources(config)
    return config


def config_choices(cls) -> dict[str, list[str]]:
    """Option -> its allowed values, for the options of `cls` that have a fixed set."""
    from nasiam.data import list_datasets
    from nasiam.frameworks import ALIASES, FRAMEWORKS
    from nasiam.space import list_spaces

    choices = {"framework": list(FRAMEWORKS) + list(ALIASES), "dataset": list_datasets(),
               "data_device": ["auto", "gpu", "cpu", "workers"],
               "optimizer": ["sgd", "adamw", "lars"], "ema_schedule": ["cosine", "constant"],
               "accelerator": ["auto", "cpu", "gpu", "cuda", "mps"],
               "wandb_mode": ["auto", "online", "offline", "disabled"],
               "precision": ["auto", "32-true", "bf16-mixed", "16-mixed", "bf16-true", *PRECISION_ALIASES]}
    if issubclass(cls, SearchConfig):
        choices.update(strategy=["darts", "darts2", "gumbel", "tpe", "random"], mode=["bilevel", "joint"],
                       space=list_spaces(), below_noise=["argmax", "prior"],
                       predictor=["search", "default", "directpred"])
    return choices


def require_package(what: str, modules: tuple[str, ...], extra: str, instead: str) -> None:
    """A ConfigError naming the fix unless one of `modules` is importable."""
    if not any(importlib.util.find_spec(m) for m in modules):
        raise ConfigError(f"{what}, which is not installed: pip install 'nasiam[{extra}]' (or pip install "
                          f"{modules[0]}), or {instead}")


def check_packages(config: RunConfig) -> None:
    """The optional packages the options need are installed (else a ConfigError naming the fix)."""
    if isinstance(config, SearchConfig) and config.strategy in ("tpe", "random"):
        require_package(f"--strategy={config.strategy} needs Optuna", ("optuna",), "optuna", "use --strategy=darts")
    if "wandb" in config.log_sinks:
        require_package("--wandb needs Weights & Biases", ("wandb",), "wandb", "leave out --wandb")
    if "tensorboard" in config.log_sinks:
        require_package("--logger=tensorboard needs TensorBoard", ("tensorboard", "tensorboardX"), "tensorboard",
                        "leave tensorboard out of --logger")


def validate_config(config: RunConfig) -> None:
    config.precision = PRECISION_ALIASES.get(config.precision, config.precision)
    for name, allowed in config_choices(type(config)).items():
        value = getattr(config, name)
        if value not in allowed:
            raise ConfigError(f"--{name}: {value!r} is not one of {', '.join(allowed)}{_suggest(str(value), allowed)}")
    unknown = [s for s in config.logger if s not in LOGGERS]
    if unknown:
        raise ConfigError(f"--logger: {', '.join(unknown)} is not one of {', '.join(LOGGERS)}")
    if config.batch_size == 1:   # said apart: it would pass for a size and fail at the first step, inside torch
        raise ConfigError("--batch_size=1: training needs at least 2 images per step and device (BatchNorm computes "
                          "its statistics over the batch; a contrastive loss needs other images); use 2 or more")
    check_bounds(config)
    if config.run_name is not None:
        name = config.run_name
        # printable only: a control character or a right-to-left override in a folder name shows
        # one thing in the terminal and names another
        if not name or name in (".", "..") or "/" in name or "\\" in name or not name.isprintable() or \
                len(name.encode()) > 200:
            raise ConfigError(f"--run_name: {shown(name)} must be a plain directory name inside --out_dir (no '/', "
                              "not '.' or '..', printable characters only, at most 200 bytes)")
    from nasiam.data.download import DOWNLOADABLE

    if config.download and config.dataset not in DOWNLOADABLE + ("synthetic",):
        raise ConfigError(f"--download fetches {', '.join(DOWNLOADABLE)} (torchvision's downloaders), not "
                          f"{config.dataset}: put its files under --data_root yourself")
    if isinstance(config, SearchConfig):
        try:
            config.policy()  # the search policy checks its own settings (betas, arch_every, ...)
        except ConfigError:
            raise
        except ValueError as e:
            raise ConfigError(f"{e} (--arch_* options)") from None
        if not 0 < config.arch_fraction < 1:
            raise ConfigError(f"--arch_fraction must be in (0, 1), got {config.arch_fraction}")
        if config.warmup_epochs >= config.epochs:
            raise ConfigError(f"--warmup_epochs ({config.warmup_epochs}) leaves no epoch to search in "
                              f"--epochs={config.epochs}")
        if config.strategy in ("tpe", "random") and config.mode != "bilevel":
            raise ConfigError(f"--strategy={config.strategy} scores genotypes on the held-out half: use --mode=bilevel")
        if config.predictor != "search" and not _has_predictor(config.framework):
            raise ConfigError(f"--predictor={config.predictor}: {config.framework} has no predictor (SimSiam and MoCo v3 "
                              "have one); leave --predictor out")
        if config.tau_max < config.tau_min:
            raise ConfigError("--tau_max must be at least --tau_min")
        if config.tau_min <= 0:
            raise ConfigError(f"--tau_min must be positive (the Gumbel temperature divides), got {config.tau_min}")
        if config.policy().needs_first_order_bilevel() and (config.mode == "joint" or config.strategy == "darts2"):
            raise ConfigError(f"--arch_steps_per_step={config.arch_steps_per_step} needs first-order bilevel search "
                              "(a joint step has one gradient; darts2 unrolls one weight batch per update): use "
                              "--mode=bilevel with --strategy=darts or gumbel, or --arch_steps_per_step=1")
        if config.strategy == "darts2" and config.mode == "joint":
            raise ConfigError("--strategy=darts2 unrolls a weight step on the weight half: use --mode=bilevel")
        if config.precision in ("bf16-true", "16-true"):
            raise ConfigError(f"--precision={config.precision} would store the logits in half precision, where small "
                              "Adam steps round to nothing; use bf16-mixed or 16-mixed")
        from nasiam.space import get_activation, get_norm
        from nasiam.space.genotype import MAX_WIDTH

        for name, values, lookup in (("activations", config.activations, get_activation), ("norms", config.norms, get_norm)):
            if not values:
                raise ConfigError(f"--{name} needs at least one option")
            for value in values:
                try:
                    lookup(value)
                except KeyError as e:
                    raise ConfigError(f"--{name}: {e.args[0]}") from None
        if config.widths is not None and not config.widths:
            raise ConfigError("--widths needs at least one option (or none: the library's 512-4096)")
        for w in config.widths or ():
            if not 1 <= w <= MAX_WIDTH:
                raise ConfigError(f"--widths: width {shown(w)} must be an integer in [1, {MAX_WIDTH}]")
    if config.warmup_lr_epochs >= config.epochs > 1:
        raise ConfigError(f"--warmup_lr_epochs ({config.warmup_lr_epochs}) leaves no epoch after the warm-up in "
                          f"--epochs={config.epochs}")


def _framework_class(framework: str):
    from nasiam.frameworks import framework_class  # the torch stack only when a check needs it

    return framework_class(framework)


def _has_predictor(framework: str) -> bool:
    return "predictor" in _framework_class(framework).head_slots(8)


def config_to_yaml(config) -> str:
    import yaml

    return yaml.safe_dump(dataclasses.asdict(config), sort_keys=False)
