"""Reading what runs wrote: backbones, heads, configs. Files are JSON and safetensors only,
validated before anything is built from them."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch.nn as nn

from nasiam.backbones import create_backbone, feature_dim
from nasiam.head import NASHead
from nasiam.runner.errors import CheckpointError

__all__ = ["load_backbone", "load_heads", "read_backbone_record", "run_config_dict"]


def read_backbone_record(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / "backbone.json"
    if not path.is_file():
        raise CheckpointError(f"{run_dir} has no backbone.json: not a finished nasiam search or pretrain run")
    if path.stat().st_size > 64 * 1024:
        raise CheckpointError(f"{path} is too large to be a backbone record")
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: not valid JSON ({e})") from None
    expected = {"format": str, "name": str, "cifar_stem": bool, "in_chans": int, "feature_dim": int}
    if not isinstance(record, dict) or record.get("format") != "nasiam.backbone" or any(
            not isinstance(record.get(k), t) for k, t in expected.items()):
        raise CheckpointError(f"{path}: not a nasiam backbone record (fields {', '.join(expected)})")
    return record


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


def load_heads(run_dir: str | Path) -> dict[str, NASHead]:
    heads_dir = Path(run_dir) / "heads"
    if not heads_dir.is_dir():
        raise CheckpointError(f"{run_dir} has no heads/ folder: not a finished nasiam search or pretrain run")
    heads = {p.name: NASHead.from_pretrained(p) for p in sorted(heads_dir.iterdir()) if p.is_dir()}
    if not heads:
        raise CheckpointError(f"{heads_dir} holds no saved head")
    return heads


def run_config_dict(run_dir: str | Path) -> dict[str, Any]:
    import yaml

    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise CheckpointError(f"{run_dir} has no config.yaml: not a nasiam run directory")
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: not a run configuration")
    return data
