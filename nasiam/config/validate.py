"""The options' checks: choices, bounds and the rules between options, each a ConfigError
that names the option and the fix."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nasiam._arguments import path_problem
from nasiam._folders import nasiam_folder_around
from nasiam._io import is_within
from nasiam.config.schema import ConfigError, RunConfig, SearchConfig, _suggest
from nasiam.errors import shown, shown_path

# Lightning's short precision names, accepted and stored under their long names.
PRECISION_ALIASES = {"16": "16-mixed", "bf16": "bf16-mixed", "32": "32-true"}
LOGGERS = ("csv", "tensorboard", "wandb")


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


def check_output_path(option: str, path: object, *, may_write_in: str | os.PathLike | None = None) -> None:
    """An output path, refused before anything is written: printable characters only (see
    `check_printable_path`), and never inside another nasiam run or export. A file added to a run's
    folder (its heads/, say) makes `pretrain --init` and `push` refuse that run as changed since
    it finished, until the file is removed by hand (#33 probe 7, D2). `may_write_in`: the one
    folder inside a run that this command writes to by design (`nasiam eval`: its run's eval/).
    It is exempt only where it is that run's own folder: an eval/ that is a symbolic link (into
    another run's heads/, or its own) is checked as any other path, since writing through it
    changed the files the link leads to (#33 probe 8, E2); and only where the nearest run or
    export around the output is the one whose folder it is: a run copied into that eval/ is
    refused like any other (#33 probe 9, F2: eval's --out into its heads/ made it unusable)."""
    check_printable_path(option, path)
    check_outside_runs(option, path, may_write_in=may_write_in)


# file systems the kernel keeps (procfs, sysfs): nothing a user names can be created in them
_KERNEL_FOLDERS = ("/proc", "/sys")


def nearest_folder(option: str, path: str | os.PathLike, *, made: str = "folder") -> Path:
    """The nearest part of `path` that exists (`path` itself, or "." or "/" at the latest),
    refused where it is not a folder, or where `path` (a `made`: "folder", or "file" for a
    result file) is still to be made and nothing can be created in it. A link that leads nowhere
    (dangling, or a loop) exists as a name, not as a folder: taken as absent, a run tried to make
    the folder over it and failed as the disk's fault, exit 5 (#33 probe 13, J1)."""
    path = Path(path)
    existing = next(p for p in (path, *path.parents) if os.path.lexists(p))
    if existing.is_symlink() and not existing.exists():
        raise ConfigError(f"{option}: {shown_path(existing)} is a symbolic link that leads nowhere (dangling, or a "
                          f"loop); nothing can be made inside it. Remove or repoint the link, or choose another {option}")
    if not existing.is_dir():
        raise ConfigError(f"{option}: {shown_path(existing)} is a file, not a folder; choose another {option}")
    # where a folder is to be made in it: one that refuses (/proc/self, another user's) failed
    # when the run made it, as a bare "[Errno 2] No such file or directory" (#33 probe 13, J3);
    # the kernel's own folders refuse root too, whom os.access lets through (probe 19, Q7)
    kernel = any(is_within(os.path.realpath(existing), root, resolved=True) for root in _KERNEL_FOLDERS)
    if existing != path and (kernel or not os.access(existing, os.W_OK | os.X_OK)):
        raise ConfigError(f"{option}: no {made} can be made at {shown_path(path)}: nothing can be created in "
                          f"{shown_path(existing)} (its permissions, a read-only file system, or a system folder "
                          f"such as /proc); choose another {option}")
    return existing


def check_outside_runs(option: str, path: object, *, may_write_in: str | os.PathLike | None = None) -> None:
    """`check_output_path` less the printable-characters rule: for an output path nasiam chose
    inside a folder the user named (eval's default, RUN/eval/knn.json), whose name the message
    shows escaped and whose characters the user did not choose for an output."""
    found = nasiam_folder_around(os.fspath(path))
    if found is None:
        return
    folder, what = found
    if may_write_in is not None and _is_own_folder(may_write_in) and is_within(os.fspath(path), may_write_in) and \
            folder == Path(os.path.realpath(may_write_in)).parent:   # no other run between it and the output
        return
    where = "is" if os.path.realpath(path) == str(folder) else "is inside"
    raise ConfigError(f"{option}: {shown_path(path)} {where} {what}, {shown_path(folder)}; writing there would "
                      "change its files (`nasiam pretrain --init` and `nasiam push` then refuse it as changed since "
                      "it was written). Choose a path outside it")


def _is_own_folder(folder: str | os.PathLike) -> bool:
    """Whether `folder` resolves to itself inside its resolved parent: no link at its last step."""
    folder = os.path.abspath(folder)
    parent, name = os.path.split(folder)
    return os.path.realpath(folder) == os.path.join(os.path.realpath(parent), name)


def check_printable_path(option: str, path: object) -> None:
    """An output path as --run_name is checked: printable characters only. A control character
    or a right-to-left override in it reaches the terminal raw in every line of normal output
    that names the folder (error messages escape it; progress and "written to" lines do not),
    and shows one folder while naming another."""
    text = str(path)
    if not text.isprintable():
        raise ConfigError(f"{option}: {shown(text, 80)} holds characters a terminal would act on or hide (control "
                          "characters, escape sequences, a right-to-left override); choose a path of printable "
                          "characters")


def check_input_path(option: str, path: object, takes: str) -> None:
    """A path an option names, refused now by name if the file system cannot look it up (a name
    over its 255 bytes, a loop of links): the OSError, met later, was described as an output
    path's ("shorten --run_name, --out_dir or the file's name", the probes of #33). `takes`:
    what the option takes, for the fix. A path that is not there is the caller's to judge."""
    why = path_problem(path)
    if why is not None:
        raise ConfigError(f"{option}: {shown(str(path), 80)} is read as a path, and {why}; pass {takes}")


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


def canonical(name: str, value: Any) -> Any:
    """An option's value under the one name its aliases share (`--precision bf16` is bf16-mixed,
    `--framework moco` mocov2, `--accelerator cuda` gpu): what a run does with it."""
    from nasiam.frameworks import ALIASES

    aliases = {"precision": PRECISION_ALIASES, "framework": ALIASES, "accelerator": {"cuda": "gpu"}}.get(name, {})
    return aliases.get(value, value) if isinstance(value, str) else value


def validate_config(config: RunConfig) -> None:
    config.precision = canonical("precision", config.precision)
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
    # printable only here: a run's own config.yaml is read through this too (`nasiam export`), its
    # --out_dir relative to wherever that runs; where a run starts, claim_run_dir checks it whole
    check_printable_path("--out_dir", config.out_dir)
    if config.run_name is not None:
        name = config.run_name
        # printable only: a control character or a right-to-left override in a folder name shows
        # one thing in the terminal and names another; a name of spaces, or one that starts or
        # ends with a space, looks like no name (or another run's) in a listing or a pasted command
        if not name.strip() or name != name.strip() or name in (".", "..") or "/" in name or "\\" in name or \
                not name.isprintable() or len(name.encode()) > 200:
            raise ConfigError(f"--run_name: {shown(name)} must be a plain directory name inside --out_dir (no '/', "
                              "not '.' or '..', printable characters only, no leading or trailing spaces, at most "
                              "200 bytes)")
    check_wandb_name("--wandb_project", config.wandb_project)
    check_wandb_name("--wandb_entity", config.wandb_entity)
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
        if not config.policy().searches_within(config.epochs):
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
        if config.arch_cuda_graphs and (config.strategy != "darts" or config.mode != "bilevel"):
            raise ConfigError(f"--arch_cuda_graphs graphs the first-order bilevel update on cached features: use it "
                              f"with --strategy=darts --mode=bilevel, not --strategy={config.strategy} "
                              f"--mode={config.mode} (gumbel and tpe/random read a sampled path on the host each "
                              "step, darts2 perturbs the weights between its losses, joint has no update of its own)")
        if config.arch_cuda_graphs and config.world_size > 1:
            raise ConfigError("--arch_cuda_graphs runs in one process: under DDP SimCLR's and MoCo v3's losses and "
                              "SyncBatchNorm gather across ranks inside the loss, a collective the graph cannot hold "
                              "(and several processes are untested with it); use --devices=1 --num_nodes=1")
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


# W&B's rule for a project name (wandb.sdk.wandb_settings.Settings.validate_project), checked
# here without wandb: wandb raised it as a traceback, exit 1, after the data were loaded, even with
# --wandb_mode disabled (the fourteenth probe of #33, K6). wandb checks no entity on the client;
# an entity is the first part of a run's path (entity/project/run), so the same rule keeps a
# name that would split or escape that path from failing on W&B's server mid-run.
WANDB_NAME_MAX = 128
WANDB_NAME_FORBIDDEN = "/\\#?%:"


def check_wandb_name(option: str, name: str | None) -> None:
    """A W&B project (or entity) name by W&B's rule: at most 128 characters, none of / \\ # ? % :."""
    if name is None:
        return
    found = "".join(c for c in WANDB_NAME_FORBIDDEN if c in name)
    if len(name) <= WANDB_NAME_MAX and not found and name.isprintable():
        return
    problem = (f"{len(name):,} characters, more than W&B's {WANDB_NAME_MAX}" if len(name) > WANDB_NAME_MAX
               else f"it holds {' '.join(found)}, which W&B does not allow ({' '.join(WANDB_NAME_FORBIDDEN)})" if found
               else "it holds a control character")
    raise ConfigError(f"{option}: {shown(name)} is not a W&B name: {problem}. Pass a name of at most "
                      f"{WANDB_NAME_MAX} printable characters without {' '.join(WANDB_NAME_FORBIDDEN)}, e.g. "
                      f"{option} {'my-project' if 'project' in option else 'my-team'}")


def _framework_class(framework: str):
    from nasiam.frameworks import framework_class  # the torch stack only when a check needs it

    return framework_class(framework)


def _has_predictor(framework: str) -> bool:
    return "predictor" in _framework_class(framework).head_slots(8)
