"""Rebuilding a run's backbone (timm). Reading the rest of a run directory (heads, genotypes,
records, config) is `nasiam.rundir`, timm-free."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch.nn as nn

from nasiam.backbones import create_backbone, feature_dim
from nasiam.errors import CheckpointError
from nasiam.rundir import read_backbone_record

__all__ = ["load_backbone"]


def load_backbone(run_dir: str | Path, expect: dict[str, Any] | None = None) -> nn.Module:
    """The backbone a run saved, rebuilt from backbone.json and loaded strictly from
    backbone.safetensors. `expect` (name, cifar_stem, in_chans) guards against mixing runs."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    record = read_backbone_record(run_dir)
    for key, value in (expect or {}).items():
        if record[key] != value:
            raise CheckpointError(f"{run_dir}'s backbone has {key}={record[key]!r}, this run asks for {value!r}; "
                                  f"pass --{key}={record[key]} or another run")
    backbone = create_backbone(record["name"], cifar_stem=record["cifar_stem"], in_chans=record["in_chans"])
    path = Path(run_dir) / "backbone.safetensors"
    try:
        state = load_file(path)
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from None
    missing, unexpected = backbone.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(f"{path} does not fit {record['name']}: missing {missing[:3]}, unexpected {unexpected[:3]}")
    if feature_dim(backbone) != record["feature_dim"]:
        raise CheckpointError(f"{path}: feature_dim {feature_dim(backbone)} differs from the record's")
    return backbone
