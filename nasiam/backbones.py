"""Backbones: any timm model by name, returning pooled features.

    backbone = create_backbone("resnet18", cifar_stem=True)   # for 32x32 images
    features = backbone(images)                               # (batch, backbone.num_features)

`cifar_stem=True` replaces a ResNet's stem by a 3x3 stride-1 convolution and drops the
max-pool, the usual change for 32x32 inputs (SimSiam's and solo-learn's CIFAR ResNets). Weights
are never downloaded: `pretrained_path` loads a local checkpoint through timm.

A run keeps its backbone as two files, written by `save_backbone` and read back by
`load_backbone` (the only home of that format)::

    RUN_DIR/backbone.safetensors   the weights
    RUN_DIR/backbone.json          how to rebuild the model: {"format": "nasiam.backbone", "name",
                                   "cifar_stem", "in_chans", "feature_dim"}
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

import torch.nn as nn

from nasiam._arguments import check_count
from nasiam._io import atomic_write_bytes, atomic_write_text
from nasiam.errors import CheckpointError

__all__ = ["create_backbone", "feature_dim", "save_backbone", "load_backbone", "read_backbone_record"]

BACKBONE_FORMAT = "nasiam.backbone"
# timm.create_model's keywords create_backbone sets from its own arguments
_SET_BY_NASIAM = frozenset({"num_classes", "pretrained", "pretrained_cfg_overlay", "zero_init_last"})


def feature_dim(backbone: nn.Module) -> int:
    """The width of the backbone's pooled features (timm's `num_features`)."""
    dim = getattr(backbone, "num_features", None)
    if not isinstance(dim, int):
        raise ValueError(f"{type(backbone).__name__} does not declare num_features; pass feature_dim explicitly")
    return dim


def create_backbone(name: str, *, cifar_stem: bool = False, in_chans: int = 3, zero_init_residual: bool = False,
                    pretrained_path: str | os.PathLike | None = None, **kwargs) -> nn.Module:
    """A timm model without classifier: `forward(images) -> (batch, num_features)`.

    Args:
        name: a timm model name (`resnet18`, `resnet50`, `resnet10t`, ...).
        cifar_stem: 3x3 stride-1 stem and no max-pool, for small images (ResNets only).
        in_chans: input channels (1 for grayscale).
        zero_init_residual: start each residual block's last BatchNorm at zero, so blocks
            begin as identities (SimSiam and SimCLR's large-batch recipe expect it).
        pretrained_path: a local checkpoint file to load (never downloads).
        **kwargs: passed to `timm.create_model` (e.g. `drop_path_rate`).
    """
    import timm

    # in_chans=0 or True built a Conv2d(0, ...) (#33 probe 14, K13); the keywords set here
    # gave "dict() got multiple values for keyword argument"
    in_chans = check_count("in_chans", in_chans)
    own = sorted(set(kwargs) & _SET_BY_NASIAM)
    if own:
        raise ValueError(f"create_backbone sets {', '.join(own)} itself (a feature extractor, weights only from "
                         "pretrained_path, zero_init_residual); drop that keyword")
    if kwargs.get("features_only"):   # a list of feature maps: the heads failed on it at the first forward (#33 probe 15, L4)
        raise ValueError("create_backbone builds a backbone whose output is one pooled (batch, features) vector, which "
                         "the heads take; features_only=True returns a list of feature maps: drop that keyword")
    if not timm.is_model(name):
        close = timm.list_models(f"*{name.split('_')[0]}*")[:8]
        raise ValueError(f"unknown backbone {name!r}; timm has e.g. {', '.join(close) or 'resnet18, resnet50'} "
                         "(see timm.list_models())")
    create_kwargs = dict(num_classes=0, in_chans=in_chans, pretrained=False, **kwargs)
    if name.split(".")[0] in timm.list_models(module="resnet"):
        create_kwargs["zero_init_last"] = zero_init_residual
    elif zero_init_residual:
        raise ValueError(f"zero_init_residual is supported for timm ResNets, not {name!r}")
    if pretrained_path is not None:
        if not os.path.isfile(pretrained_path):
            raise FileNotFoundError(f"no checkpoint at {pretrained_path} (nasiam never downloads weights)")
        create_kwargs.update(pretrained=True, pretrained_cfg_overlay={"file": os.fspath(pretrained_path)})
    model = timm.create_model(name, **create_kwargs)
    if cifar_stem:
        _to_cifar_stem(model, name, in_chans)
    return model


def _to_cifar_stem(model: nn.Module, name: str, in_chans: int) -> None:
    if not (hasattr(model, "conv1") and hasattr(model, "bn1") and hasattr(model, "maxpool")):
        raise ValueError(f"cifar_stem is supported for ResNet-style models (conv1, bn1, maxpool), not {name!r}")
    stem_width = model.bn1.num_features
    model.conv1 = nn.Conv2d(in_chans, stem_width, kernel_size=3, stride=1, padding=1, bias=False)
    nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    model.maxpool = nn.Identity()


def save_backbone(run_dir: str | Path, backbone: nn.Module, record: Mapping[str, Any]) -> None:
    """Write `backbone`'s weights (backbone.safetensors) and `record` (backbone.json, how to
    rebuild it), each atomically."""
    from safetensors.torch import save

    run_dir = Path(run_dir)
    tensors = {k: v.detach().cpu().contiguous() for k, v in backbone.state_dict().items()}
    atomic_write_bytes(run_dir / "backbone.safetensors", save(tensors, metadata={"format": BACKBONE_FORMAT}))
    atomic_write_text(run_dir / "backbone.json", json.dumps(dict(record), indent=2, default=str) + "\n")


def read_backbone_record(run_dir: str | Path) -> dict[str, Any]:
    """A run's backbone.json, validated (no timm needed)."""
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
    if not isinstance(record, dict) or record.get("format") != BACKBONE_FORMAT or any(
            not isinstance(record.get(k), t) for k, t in expected.items()):
        raise CheckpointError(f"{path}: not a nasiam backbone record (fields {', '.join(expected)})")
    return record


def _mismatch(run_dir: str | Path, key: str, recorded: Any, asked: Any) -> str:
    """Why backbone.json's field `key` does not match, and the command-line advice that makes it:
    the record's field names are no options ("pass --name=resnet10t", #33 probe 14, K12), and
    in_chans follows the dataset's images, in `pretrain --init` and in `eval`, which trains
    nothing (its message spoke of training, probe 18, P7)."""
    if key == "in_chans":
        def channels(n):
            return f"{n} channel{'s' if n != 1 else ''}"
        return (f"{run_dir}'s backbone takes images of {channels(recorded)}, the dataset's have {channels(asked)}; "
                f"choose a --dataset of {channels(recorded)} or another run")
    option = "backbone" if key == "name" else key
    return f"{run_dir}'s backbone has {key}={recorded!r}, this run asks for {asked!r}; pass --{option}={recorded} or another run"


def load_backbone(run_dir: str | Path, expect: Mapping[str, Any] | None = None) -> nn.Module:
    """The backbone a run saved, rebuilt from backbone.json and loaded strictly from
    backbone.safetensors. `expect` (name, cifar_stem, in_chans) guards against mixing runs."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    record = read_backbone_record(run_dir)
    for key, value in (expect or {}).items():
        if record[key] != value:
            raise CheckpointError(_mismatch(run_dir, key, record[key], value))
    backbone = create_backbone(record["name"], cifar_stem=record["cifar_stem"], in_chans=record["in_chans"])
    path = Path(run_dir) / "backbone.safetensors"
    try:
        state = load_file(path)
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from None
    missing, unexpected = backbone.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(f"{path} does not fit {record['name']}: missing {missing[:3]}, "
                              f"unexpected {unexpected[:3]}")
    if feature_dim(backbone) != record["feature_dim"]:
        raise CheckpointError(f"{path}: feature_dim {feature_dim(backbone)} differs from the record's")
    return backbone
