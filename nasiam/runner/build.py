"""Building a run from its configuration: data loaders, backbone, framework and heads."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset, Subset

from nasiam.backbones import create_backbone, feature_dim
from nasiam.config import RunConfig, SearchConfig
from nasiam.data import (
    DatasetInfo,
    MultiViewTransform,
    augment_recipe,
    create_dataset,
    dataset_info,
    eval_transform,
    random_subset,
    search_split,
)
from nasiam.frameworks import SSLFramework, framework_class
from nasiam.head import SearchableHead
from nasiam.space import MLPSpace, NASiamSpace

__all__ = ["canonical_framework", "data_info", "framework_kwargs", "build_backbone", "build_search_model",
           "TrainData", "build_train_data", "build_eval_datasets", "make_loader", "backbone_record",
           "recalibrate_exported"]


def canonical_framework(cfg: RunConfig) -> str:
    return framework_class(cfg.framework).name


def data_info(cfg: RunConfig) -> DatasetInfo:
    info = dataset_info(cfg.dataset)
    return dataset_info(cfg.dataset, image_size=cfg.image_size) if cfg.image_size else info


def framework_kwargs(cfg: RunConfig) -> dict[str, Any]:
    """The method's dims and hyper-parameters from the config (None: the method's default)."""
    name = canonical_framework(cfg)
    dims = {"proj_hidden_dim": cfg.proj_hidden_dim, "proj_output_dim": cfg.proj_output_dim}
    if name in ("simsiam", "mocov3"):
        dims["pred_hidden_dim"] = cfg.pred_hidden_dim
    if name == "simsiam":
        dims["proj_layers"] = cfg.proj_layers
    extra: dict[str, Any] = {}
    if name != "simsiam" and cfg.temperature is not None:
        extra["temperature"] = cfg.temperature
    if name == "mocov2" and cfg.queue_size is not None:
        extra["queue_size"] = cfg.queue_size
    return {**{k: v for k, v in dims.items() if v is not None}, **extra}


def build_backbone(cfg: RunConfig, info: DatasetInfo) -> nn.Module:
    zero_init = cfg.zero_init_residual if cfg.zero_init_residual is not None else canonical_framework(cfg) == "simsiam"
    return create_backbone(cfg.backbone, cifar_stem=cfg.cifar_stem, in_chans=info.channels,
                           zero_init_residual=zero_init)


def backbone_record(cfg: RunConfig, info: DatasetInfo, backbone: nn.Module) -> dict[str, Any]:
    """What it takes to rebuild the backbone around its saved weights."""
    return {"format": "nasiam.backbone", "name": cfg.backbone, "cifar_stem": cfg.cifar_stem,
            "in_chans": info.channels, "feature_dim": feature_dim(backbone)}


def _searchable_heads(cfg: SearchConfig, cls: type[SSLFramework], in_dim: int, dims: dict) -> dict[str, nn.Module]:
    slots = cls.head_slots(in_dim, **{k: v for k, v in dims.items() if k in
                                      ("proj_hidden_dim", "proj_output_dim", "pred_hidden_dim", "proj_layers")})
    heads = {}
    for name, slot in slots.items():
        layers = cfg.projector_layers if name == "projector" else cfg.predictor_layers
        if cfg.space == "mlp":
            space = MLPSpace(widths=tuple(cfg.widths), norms=tuple(cfg.norms), activations=tuple(cfg.activations),
                             allow_skip=cfg.allow_skip)
            heads[name] = SearchableHead(slot.in_dim, slot.out_dim, layers or slot.num_layers, space,
                                         output_norm=slot.output_norm, output_bias=slot.output_bias)
        elif name == "projector":
            # the paper's projector cell keeps the backbone width and ends in the fixed output layer
            heads[name] = SearchableHead(slot.in_dim, slot.out_dim, layers or 6, NASiamSpace(),
                                         output_norm=slot.output_norm, output_bias=slot.output_bias)
        else:
            hidden = cfg.nasiam_hidden_dim or slot.preset_kwargs.get("hidden_dim")
            heads[name] = SearchableHead(slot.in_dim, slot.out_dim, layers or 4, NASiamSpace(hidden_dim=hidden),
                                         output_layer=False)
    return heads


def build_search_model(cfg: SearchConfig, info: DatasetInfo) -> SSLFramework:
    cls = framework_class(cfg.framework)
    backbone = build_backbone(cfg, info)
    dim = feature_dim(backbone)
    kwargs = framework_kwargs(cfg)
    return cls(backbone, dim, heads=_searchable_heads(cfg, cls, dim, kwargs), **kwargs)


@dataclass
class TrainData:
    weight: Dataset           # trains the weights
    arch: Dataset | None      # trains the logits (bilevel search)
    calibration: Dataset      # un-augmented training images (BatchNorm recalibration)


def build_train_data(cfg: RunConfig, info: DatasetInfo, bilevel: bool = False, arch_fraction: float = 0.5) -> TrainData:
    method = canonical_framework(cfg)
    split = cfg.train_split or ("train+unlabeled" if cfg.dataset == "stl10" else "train")
    views = MultiViewTransform(augment_recipe(method, info))
    synthetic = {"image_size": info.image_size, "channels": info.channels, "size": cfg.subset or 2048,
                 "seed": cfg.seed} if cfg.dataset == "synthetic" else {}
    full = create_dataset(cfg.dataset, cfg.data_root, split, transform=views, **synthetic)
    plain = create_dataset(cfg.dataset, cfg.data_root, split, transform=eval_transform(info), **synthetic)
    indices = random_subset(len(full), cfg.subset, seed=cfg.seed)
    needed = cfg.batch_size * cfg.devices * (2 if bilevel else 1)
    if len(indices) < needed:
        raise ValueError(f"{len(indices)} training images cannot fill a batch of {cfg.batch_size} per device on "
                         f"{cfg.devices} device(s){' for both halves of the bilevel split' if bilevel else ''}; "
                         f"lower --batch_size or raise --subset")
    if not bilevel:
        return TrainData(Subset(full, indices), None, Subset(plain, indices))
    weight_pos, arch_pos = search_split(len(indices), arch_fraction, seed=cfg.seed)
    weight_idx, arch_idx = [indices[i] for i in weight_pos], [indices[i] for i in arch_pos]
    return TrainData(Subset(full, weight_idx), Subset(full, arch_idx), Subset(plain, weight_idx))


def build_eval_datasets(cfg: RunConfig, info: DatasetInfo) -> tuple[Dataset, Dataset]:
    """Labelled (memory bank, test) sets with evaluation preprocessing, for kNN."""
    transform = eval_transform(info)
    synthetic = {"image_size": info.image_size, "channels": info.channels, "size": min(cfg.subset or 2048, 2048),
                 "seed": cfg.seed} if cfg.dataset == "synthetic" else {}
    train_split = "train"
    bank = create_dataset(cfg.dataset, cfg.data_root, train_split, transform=transform, **synthetic)
    test = create_dataset(cfg.dataset, cfg.data_root, info.eval_split, transform=transform, **synthetic)
    if cfg.knn_subset:
        bank = Subset(bank, random_subset(len(bank), cfg.knn_subset, seed=cfg.seed + 1))
    return bank, test


@torch.no_grad()
def recalibrate_exported(heads: dict[str, nn.Module], backbone: nn.Module, dataset: Dataset, device,
                         batch_size: int, seed: int, batches: int = 8) -> None:
    """Re-estimate exported heads' BatchNorm statistics on their own inputs: backbone
    features (eval mode) for the projector, the projector's outputs for the predictor. The
    supernet's statistics describe a mixture of architectures (see nasiam.head.calibration)."""
    from nasiam.head import recalibrate_batchnorm

    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=0,
                        generator=torch.Generator().manual_seed(seed))
    was_training = backbone.training
    backbone.eval()
    feats = [backbone(x.to(device)) for x, _ in (b for _, b in zip(range(batches), loader))]
    backbone.train(was_training)
    if "projector" in heads:
        recalibrate_batchnorm(heads["projector"], feats)
        heads["projector"].eval()
        if "predictor" in heads:
            recalibrate_batchnorm(heads["predictor"], [heads["projector"](f) for f in feats])


def make_loader(dataset: Dataset, cfg: RunConfig, shuffle: bool, drop_last: bool, batch_size: int | None = None,
                pin_memory: bool = False) -> DataLoader:
    workers = cfg.num_workers
    # Workers are not persistent: each epoch draws its shuffle order and its workers' seeds
    # from the global RNG, which a checkpoint restores, so a resumed run sees the same batches
    # and augmentations as an uninterrupted one. Re-forking costs well under a second an epoch.
    return DataLoader(dataset, batch_size=batch_size or cfg.batch_size, shuffle=shuffle, drop_last=drop_last,
                      num_workers=workers, persistent_workers=False, pin_memory=pin_memory,
                      prefetch_factor=4 if workers > 0 else None)
