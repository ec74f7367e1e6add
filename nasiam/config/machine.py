"""The options against this machine: the optional packages they need, its cores, GPUs and
memory, and the cluster environment."""
from __future__ import annotations

import importlib.util
import os
import re

from nasiam.config.schema import ConfigError, RunConfig, SearchConfig
from nasiam.config.validate import _framework_class
from nasiam.space.mlp import DEFAULT_WIDTHS


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
    """--devices against the cores or GPUs, several nodes only inside a cluster job, and the
    heads' and the method's state's memory against the machine's RAM."""
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
    check_cluster_environment()
    # SLURM_JOB_ID alone (a shell inside an allocation, not a task srun started) launches nothing
    # on the other nodes: the first one waited for them without a word (#33 probe 21, S12)
    if config.num_nodes > 1 and not (_srun_task() or
                                     (os.environ.get("MASTER_ADDR") and os.environ.get("NODE_RANK") is not None)):
        raise ConfigError(f"--num_nodes={config.num_nodes} outside a cluster job step (no task srun started: "
                          "SLURM_NTASKS is not set, or SLURM_JOB_NAME says an interactive shell; SLURM_JOB_ID alone is "
                          "a shell in the allocation): nasiam would wait for nodes that never come. "
                          "Launch it with srun inside a SLURM allocation, or set MASTER_ADDR, MASTER_PORT and NODE_RANK "
                          "on every node (torchrun-style)")
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


# the SLURM variables Lightning Fabric reads as integers (its rank at import, its SLURM environment)
SLURM_INTEGERS = ("SLURM_PROCID", "SLURM_LOCALID", "SLURM_NODEID", "SLURM_NTASKS", "SLURM_NNODES")


def _srun_task() -> bool:
    """Whether Lightning takes this process for a task of a SLURM job step (its SLURMEnvironment's
    rule: SLURM_NTASKS set, and the job not an interactive shell)."""
    return "SLURM_NTASKS" in os.environ and os.environ.get("SLURM_JOB_NAME") not in ("bash", "interactive")


def check_cluster_environment() -> None:
    """The SLURM variables as Lightning Fabric reads them, before anything is written: a value
    that is not a number, or an sbatch `--ntasks=N` job that runs nasiam without srun, stopped
    Lightning with a traceback naming neither the variable nor nasiam's fix (#33 probe 21, S13)."""
    for name in SLURM_INTEGERS:
        value = os.environ.get(name)
        # ASCII digits, at most 9: isdigit() took superscripts int() cannot read, and any length
        # (int() refuses over 4300 digits); SLURM writes plain integers (#33 probe 22, T5)
        if value is not None and not re.fullmatch(r"\s*[0-9]{1,9}\s*", value):
            raise ConfigError(f"the environment variable {name}={repr(value)[:40]} is not a number (at most 9 digits "
                              "0-9); SLURM sets it for the tasks "
                              f"srun starts. Unset {name}, or run nasiam under srun inside the SLURM job")
    ntasks = int(os.environ.get("SLURM_NTASKS", "1"))
    if _srun_task() and ntasks > 1 and "SLURM_NTASKS_PER_NODE" not in os.environ:
        raise ConfigError(f"SLURM_NTASKS={ntasks} without SLURM_NTASKS_PER_NODE (a job asked for --ntasks={ntasks}): "
                          "Lightning Fabric runs one task per device, counted per node. Ask for "
                          f"`--ntasks-per-node={ntasks}` in the job script and start nasiam with `srun`, or unset "
                          "SLURM_NTASKS to run it as one process")


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
        check_wandb_environment()
    if "tensorboard" in config.log_sinks:
        require_package("--logger=tensorboard needs TensorBoard", ("tensorboard", "tensorboardX"), "tensorboard",
                        "leave tensorboard out of --logger")


# what wandb.init accepts (its Settings.mode), and its rule for a run id (Settings.validate_run_id)
WANDB_MODES = ("online", "offline", "disabled", "shared", "dryrun", "run")
WANDB_RUN_ID_FORBIDDEN = ":;,#?/'"


def check_wandb_environment() -> None:
    """The W&B variables wandb.init reads, by W&B's rules, before anything is written: they
    stopped the run with W&B's traceback after the data were loaded, the run folder left
    behind (#33 probe 21, S15)."""
    mode = os.environ.get("WANDB_MODE")
    if mode is not None and mode not in WANDB_MODES:   # set but empty too: wandb refuses '' (#33 probe 22, T1)
        raise ConfigError(f"the environment variable WANDB_MODE={mode!r} is not a W&B mode ({', '.join(WANDB_MODES)}). "
                          "Set one of them, or unset WANDB_MODE (then --wandb_mode decides)")
    run_id = os.environ.get("WANDB_RUN_ID")
    if run_id is None:
        return
    found = "".join(c for c in WANDB_RUN_ID_FORBIDDEN if c in run_id)
    if found or not run_id.strip() or run_id != run_id.strip():
        problem = f"it holds {' '.join(found)}" if found else "it is empty or starts or ends with a space"
        raise ConfigError(f"the environment variable WANDB_RUN_ID={run_id!r} is not a W&B run id: {problem}; W&B allows "
                          f"no {' '.join(WANDB_RUN_ID_FORBIDDEN)} and no surrounding spaces. Unset WANDB_RUN_ID "
                          "(nasiam gives each run folder its own id, so that --resume continues it), or set a valid one")
