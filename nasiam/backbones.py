"""Backbones: any timm model by name, returning pooled features.

    backbone = create_backbone("resnet18", cifar_stem=True)   # for 32x32 images
    features = backbone(images)                               # (batch, backbone.num_features)

`cifar_stem=True` replaces a ResNet's stem by a 3x3 stride-1 convolution and drops the
max-pool, the usual change for 32x32 inputs (SimSiam's and solo-learn's CIFAR ResNets). Weights
are never downloaded: `pretrained_path` loads a local checkpoint through timm.
"""
from __future__ import annotations

import os

import torch.nn as nn

__all__ = ["create_backbone", "feature_dim"]


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

    if not timm.is_model(name):
        close = timm.list_models(f"*{name.split('_')[0]}*")[:8]
        raise ValueError(f"unknown backbone {name!r}; timm has e.g. {', '.join(close) or 'resnet18, resnet50'} "
                         "(see timm.list_models())")
    create_kwargs = dict(num_classes=0, in_chans=in_chans, pretrained=False, **kwargs)
    if _is_timm_resnet(name):
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


def _is_timm_resnet(name: str) -> bool:
    import timm

    return name.split(".")[0] in timm.list_models(module="resnet")


def _to_cifar_stem(model: nn.Module, name: str, in_chans: int) -> None:
    if not (hasattr(model, "conv1") and hasattr(model, "bn1") and hasattr(model, "maxpool")):
        raise ValueError(f"cifar_stem is supported for ResNet-style models (conv1, bn1, maxpool), not {name!r}")
    stem_width = model.bn1.num_features
    model.conv1 = nn.Conv2d(in_chans, stem_width, kernel_size=3, stride=1, padding=1, bias=False)
    nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    model.maxpool = nn.Identity()
