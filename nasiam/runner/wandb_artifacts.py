"""Runs as Weights & Biases model artifacts, and runs built from them.

A finished search or pretrain logs its outputs as one artifact of type "model", named after
the run directory (`search-<run>`, `pretrain-<run>`): `heads/` (each head's genotype.json and
head.safetensors), `genotype.json`, `backbone.safetensors` with `backbone.json`, `config.yaml`
and `summary.json`, with the genotypes and scores as metadata. `nasiam pretrain` takes such an
artifact wherever it takes a run directory, written with an explicit prefix so that a local
path is never sent to the network:

    nasiam pretrain --head wandb:entity/project/search-myrun:latest      # the architecture
    nasiam pretrain --init wandb:entity/project/search-myrun:v3          # ... and the weights

The artifact is downloaded once into the run directory (`inputs/`), read by the same validated
loaders as a local run, and recorded as the run's input (`use_artifact`), so W&B shows the
lineage search -> pretrain. Credentials and the server (WANDB_API_KEY, WANDB_BASE_URL for a
self-hosted one) are wandb's own business.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

__all__ = ["PREFIX", "RUN_FILES", "is_artifact_reference", "artifact_name", "log_run_artifact", "download_run"]

PREFIX = "wandb:"
RUN_FILES = ("genotype.json", "backbone.safetensors", "backbone.json", "config.yaml", "summary.json")


def is_artifact_reference(value: str | None) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def _safe_name(text: str) -> str:
    """W&B artifact names (and our download folders) allow letters, digits, '-', '_' and '.'."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", text)


def artifact_name(kind: str, run_dir: Path) -> str:
    return _safe_name(f"{kind}-{Path(run_dir).name}")


def log_run_artifact(wandb_run, run_dir: Path, kind: str, metadata: Mapping[str, Any]):
    """Log `run_dir`'s outputs as a model artifact on `wandb_run`; returns the artifact."""
    import wandb

    run_dir = Path(run_dir)
    artifact = wandb.Artifact(artifact_name(kind, run_dir), type="model", metadata=dict(metadata),
                              description=f"nasiam {kind} run {run_dir.name}: heads, genotype and backbone")
    for name in RUN_FILES:
        if (run_dir / name).is_file():
            artifact.add_file(str(run_dir / name), name=name)
    if (run_dir / "heads").is_dir():
        artifact.add_dir(str(run_dir / "heads"), name="heads")
    wandb_run.log_artifact(artifact, aliases=["latest"])
    return artifact


def _reference(value: str) -> str:
    reference = value[len(PREFIX):]
    # entity/project/name:alias, project/name:alias or name:alias (wandb fills in the rest)
    if not re.fullmatch(r"([\w.-]+/){0,2}[\w.-]+(:[\w.-]+)?", reference):
        raise ValueError(f"{value!r} is not a W&B artifact reference; write wandb:ENTITY/PROJECT/NAME:ALIAS "
                         "(e.g. wandb:me/nasiam/search-myrun:latest)")
    return reference if ":" in reference else reference + ":latest"


def download_run(value: str, inputs_dir: Path, api=None) -> tuple[Path, str]:
    """Download the artifact `value` ("wandb:entity/project/name:alias") into `inputs_dir`;
    returns (the local directory, the resolved reference for `use_artifact`). Raises
    FileNotFoundError naming the artifact when W&B cannot give it."""
    reference = _reference(value)
    if api is None:
        try:
            import wandb
        except ImportError:
            raise ImportError(f"{value} is a W&B artifact: pip install 'nasiam[wandb]' (or pip install wandb)") from None
        api = wandb.Api()
    try:
        artifact = api.artifact(reference, type="model")
    except Exception as e:  # wandb raises CommError/ValueError subclasses that vary by version
        raise FileNotFoundError(f"W&B artifact {reference} could not be fetched ({str(e).splitlines()[0][:200]}); "
                                "check the name and alias, WANDB_API_KEY and WANDB_BASE_URL") from None
    target = Path(inputs_dir) / _safe_name(reference)
    local = Path(artifact.download(root=str(target)))
    if not (local / "genotype.json").is_file():
        raise FileNotFoundError(f"W&B artifact {reference} holds no genotype.json: not a nasiam run artifact")
    qualified = getattr(artifact, "qualified_name", None)
    return local, qualified if isinstance(qualified, str) else reference
