"""Building a run from its configuration: data loaders, backbone, framework and heads."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset, Subset

from nasiam._distributed import is_distributed, world_size
from nasiam.backbones import create_backbone, feature_dim
from nasiam.config import ConfigError, RunConfig, SearchConfig, check_input_path
from nasiam.data import (
    ArrayImageDataset,
    DatasetInfo,
    MultiViewTransform,
    SyntheticImages,
    augment_recipe,
    create_dataset,
    dataset_info,
    eval_transform,
    image_folder_classes,
    random_subset,
    search_split,
)
from nasiam.data.device import DeviceImages, DeviceViewSet, can_hold, device_loader
from nasiam.errors import shown, shown_path
from nasiam.frameworks import SSLFramework, framework_class
from nasiam.head import NASHead, SearchableHead, recalibrate_batchnorm
from nasiam.presets import get_preset
from nasiam.space.registry import SPACES

__all__ = ["canonical_framework", "data_info", "read_dataset_info", "framework_kwargs", "build_backbone",
           "build_search_model", "gathered",
           "TrainData", "build_train_data", "build_eval_datasets", "check_eval_datasets",
           "check_eval_splits", "make_loader", "backbone_record",
           "recalibrate_exported", "searchable_heads", "training_device", "resolve_data_device", "DATA_DEVICES", "compile_modules"]


def canonical_framework(cfg: RunConfig) -> str:
    return framework_class(cfg.framework).name


def data_info(cfg: RunConfig) -> DatasetInfo:
    return read_dataset_info(cfg.dataset, cfg.data_root, cfg.image_size)


def read_dataset_info(name: str, root, image_size: int | None = None) -> DatasetInfo:
    """Dataset `name`'s info at `image_size` (None: its own). A user's image folder has as many
    classes as its training split has class folders (its bare info says 0: unknown), so they
    are counted under `root`; without that the label check and kNN would see no classes."""
    if root is not None:   # a path the file system cannot look up was advised as an output's
        check_input_path("--data_root", root, "the folder that holds the dataset, at a shorter path")
    overrides: dict[str, Any] = {"image_size": image_size} if image_size else {}
    if dataset_info(name).num_classes == 0:
        overrides["num_classes"] = len(image_folder_classes(name, root))
    return dataset_info(name, **overrides)


def framework_kwargs(cfg: RunConfig) -> dict[str, Any]:
    """The method's dims and hyper-parameters from the config (None: the method's default), as
    the method's class declares them (`SSLFramework.config_kwargs`)."""
    return framework_class(cfg.framework).config_kwargs(cfg)


def build_backbone(cfg: RunConfig, info: DatasetInfo) -> nn.Module:
    zero_init = cfg.zero_init_residual
    if zero_init is None:
        zero_init = framework_class(cfg.framework).zero_init_residual
    return create_backbone(cfg.backbone, cifar_stem=cfg.cifar_stem, in_chans=info.channels,
                           zero_init_residual=zero_init)


def backbone_record(cfg: RunConfig, info: DatasetInfo, backbone: nn.Module) -> dict[str, Any]:
    """What it takes to rebuild the backbone around its saved weights."""
    return {"format": "nasiam.backbone", "name": cfg.backbone, "cifar_stem": cfg.cifar_stem,
            "in_chans": info.channels, "feature_dim": feature_dim(backbone)}


def searchable_heads(cfg: SearchConfig, cls: type[SSLFramework], in_dim: int, dims: dict) -> dict[str, nn.Module]:
    """A `SearchableHead` per slot of `cls` for `cfg`'s space, widths and layers (what
    `build_search_model` puts on the backbone; `nasiam compare` draws random heads from them),
    except a predictor `--predictor` fixes: a NASHead, the method's standard one or DirectPred's."""
    slots = cls.head_slots(in_dim, **{k: v for k, v in dims.items() if k in cls.dim_names()})
    space = SPACES[cfg.space]   # each space reads its own options and knows its slots
    options = {"widths": cfg.widths, "norms": cfg.norms, "activations": cfg.activations, "allow_skip": cfg.allow_skip,
               "nasiam_hidden_dim": cfg.nasiam_hidden_dim}
    heads: dict[str, nn.Module] = {}
    for name, slot in slots.items():
        if name == "predictor" and cfg.predictor != "search":
            genotype = (get_preset(slot.preset, **slot.preset_kwargs) if cfg.predictor == "default"
                        else get_preset("directpred_predictor", out_dim=slot.out_dim))
            heads[name] = NASHead(genotype.with_in_dim(None), slot.in_dim)
            continue
        search = space.slot_search(name, slot.preset_kwargs.get("hidden_dim"), options)
        layers = cfg.projector_layers if name == "projector" else cfg.predictor_layers
        heads[name] = SearchableHead(slot.in_dim, slot.out_dim, layers or search.num_layers or slot.num_layers,
                                     search.space, output_norm=slot.output_norm, output_bias=slot.output_bias,
                                     output_layer=search.output_layer)
    return heads


def build_search_model(cfg: SearchConfig, info: DatasetInfo) -> SSLFramework:
    cls = framework_class(cfg.framework)
    backbone = build_backbone(cfg, info)
    dim = feature_dim(backbone)
    kwargs = framework_kwargs(cfg)
    return cls(backbone, dim, heads=searchable_heads(cfg, cls, dim, kwargs), **kwargs)


def compile_modules(model: SSLFramework, **options) -> list[str]:
    """`torch.compile` the model's backbones and heads in place and return their names. In place
    (`nn.Module.compile`) keeps the state-dict keys free of `_orig_mod.`, so checkpoints and exported
    heads are the same with and without --compile. The loss and the bookkeeping (EMA, MoCo's queue)
    stay eager: the compute is in these modules."""
    names = ["backbone", *model.slots, "momentum_backbone", "momentum_projector"]
    sampled = {name for name, head in model.searchable_heads().items() if head.sampling != "softmax"}
    if "projector" in sampled:
        sampled.add("momentum_projector")  # it follows the projector's sampled path
    compiled = []
    for name in names:
        module = getattr(model, name, None)
        # a head that samples a path per step (Gumbel, one-shot uniform) changes its graph every
        # step: dynamo would recompile until its limit, then run it eagerly anyway
        if isinstance(module, nn.Module) and any(True for _ in module.parameters()) and name not in sampled:
            module.compile(**options)
            compiled.append(name)
    return compiled


@dataclass
class TrainData:
    weight: Dataset | DeviceViewSet          # trains the weights
    arch: Dataset | DeviceViewSet | None     # trains the logits (bilevel search)
    calibration: Dataset                     # un-augmented training images (BatchNorm recalibration)
    held_out: Dataset | None = None          # the architecture half, un-augmented (never trains weights)


DATA_DEVICES = ("auto", "cpu", "gpu", "workers")


def training_device(cfg: RunConfig) -> torch.device:
    """The device this process trains on, as Fabric chooses it (called after its launch, which
    makes each rank's GPU the current one)."""
    use_cuda = cfg.accelerator in ("gpu", "cuda") or (cfg.accelerator == "auto" and torch.cuda.is_available())
    if use_cuda and torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cuda" if use_cuda else "cpu")


def resolve_data_device(cfg: RunConfig, dataset: Dataset, n_images: int) -> torch.device | None:
    """Where the training views are made: a device for batched augmentation of device-resident
    images, or None for per-sample transforms in DataLoader workers.

    auto: the GPU when training on CUDA and the images take at most a quarter of its free
    memory; else the workers. On a CPU neither pipeline wins clearly end to end (RESULTS.md, the
    GPU path measured on the CPU), so `--data_device=cpu` has to ask for the batched one."""
    if cfg.data_device not in DATA_DEVICES:
        raise ConfigError(f"--data_device: {cfg.data_device!r} is not one of {', '.join(DATA_DEVICES)}")
    in_memory = isinstance(dataset, (ArrayImageDataset, SyntheticImages))
    if cfg.data_device == "workers":
        return None
    if cfg.data_device == "auto":
        device = training_device(cfg)
        if device.type == "cuda" and torch.cuda.is_available() and in_memory:
            sample = dataset[0][0] if isinstance(dataset, SyntheticImages) else None
            per_image = (sample.numel() if sample is not None else int(np.prod(dataset.images.shape[1:])))
            # every rank takes the same pipeline: the device one shares each pass's seed through a collective
            if all(gathered(can_hold(n_images * per_image, device))):
                return device
        return None
    if not in_memory:
        raise ConfigError(f"--data_device={cfg.data_device}: {cfg.dataset} is read image by image from files; "
                          "device-resident data needs an in-memory dataset (cifar10, cifar100, stl10, fashion_mnist, "
                          "synthetic). Use --data_device=workers")
    # gpu is checked when the loaders are made (make_loader), not here: `nasiam export` rebuilds
    # the data for its calibration images only, on machines that may have no GPU
    return torch.device("cpu") if cfg.data_device == "cpu" else torch.device("cuda")


def gathered(value: Any) -> list[Any]:
    """`value` from every rank, in rank order (this one's alone outside DDP)."""
    if not is_distributed():
        return [value]
    values: list[Any] = [None] * world_size()
    torch.distributed.all_gather_object(values, value)
    return values


def build_train_data(cfg: RunConfig, info: DatasetInfo, bilevel: bool = False, arch_fraction: float = 0.5) -> TrainData:
    split = cfg.train_split or ("train+unlabeled" if cfg.dataset == "stl10" else "train")
    recipe = augment_recipe(framework_class(cfg.framework).augmentation, info)
    synthetic = {"image_size": info.image_size, "channels": info.channels, "size": cfg.subset or 2048,
                 "seed": cfg.seed} if cfg.dataset == "synthetic" else {}
    if cfg.download and cfg.dataset != "synthetic":
        from nasiam.data.download import ensure_downloaded

        ensure_downloaded(cfg.dataset, cfg.data_root)
    plain = create_dataset(cfg.dataset, cfg.data_root, split, transform=eval_transform(info), **synthetic)
    indices = random_subset(len(plain), cfg.subset, seed=cfg.seed)
    needed = cfg.batch_size * cfg.world_size * (2 if bilevel else 1)
    if len(indices) < needed:
        raise ValueError(f"{len(indices)} training images cannot fill a batch of {cfg.batch_size} per device on "
                         f"{cfg.world_size} process(es){' for both halves of the bilevel split' if bilevel else ''}; "
                         f"lower --batch_size or raise --subset")
    positions = search_split(len(indices), arch_fraction, seed=cfg.seed) if bilevel else (range(len(indices)), None)
    per_step = cfg.batch_size * cfg.world_size
    for half, name in zip(positions, ("weight", "architecture")):
        if half is not None and len(half) < per_step:   # an empty epoch would end the run in StopIteration
            raise ValueError(f"--arch_fraction={arch_fraction} leaves {len(half)} of {len(indices)} training images "
                             f"for the {name} half, fewer than one batch of {per_step}; choose a fraction nearer "
                             "0.5, or raise --subset")
    weight_idx = [indices[i] for i in positions[0]]
    calibration = Subset(plain, weight_idx)
    held_out = Subset(plain, [indices[i] for i in positions[1]]) if bilevel else None
    device = resolve_data_device(cfg, plain, len(indices))
    if device is not None:
        # the subset's images once (the halves index into it), moved to the device by make_loader
        storage = DeviceImages.from_dataset(plain, indices)
        weight = DeviceViewSet(storage, list(positions[0]), recipe, device=device)
        arch = DeviceViewSet(storage, list(positions[1]), recipe, device=device) if bilevel else None
        return TrainData(weight, arch, calibration, held_out)
    full = create_dataset(cfg.dataset, cfg.data_root, split, transform=MultiViewTransform(recipe), **synthetic)
    arch = Subset(full, [indices[i] for i in positions[1]]) if bilevel else None
    return TrainData(Subset(full, weight_idx), arch, calibration, held_out)


def build_eval_datasets(cfg: RunConfig, info: DatasetInfo) -> tuple[Dataset, Dataset]:
    """Labelled (memory bank, test) sets with evaluation preprocessing, for kNN."""
    transform = eval_transform(info)
    synthetic = {"image_size": info.image_size, "channels": info.channels, "size": min(cfg.subset or 2048, 2048),
                 "seed": cfg.seed} if cfg.dataset == "synthetic" else {}
    bank = create_dataset(cfg.dataset, cfg.data_root, "train", transform=transform, **synthetic)
    test = create_dataset(cfg.dataset, cfg.data_root, info.eval_split, transform=transform, **synthetic)
    if cfg.knn_subset:
        bank = Subset(bank, random_subset(len(bank), cfg.knn_subset, seed=cfg.seed + 1))
    return bank, test


def check_eval_datasets(cfg: RunConfig, info: DatasetInfo) -> None:
    """Open the evaluation's splits before the first step, so a missing, damaged or hostile
    test split stops the run now (exit 2), not after hours of training."""
    check_eval_splits(cfg.dataset, info, *build_eval_datasets(cfg, info))


_UNLABELLED_NOTE = " (-1 marks an unlabelled image, which only STL-10's unlabeled split holds)"


def check_eval_splits(dataset_name: str, info: DatasetInfo, bank: Dataset, test: Dataset) -> None:
    """Dataset `dataset_name`'s train split `bank` and test split `test` (`info.eval_split`) fit
    for evaluation: both non-empty, their first and last images readable, every label a class of
    the dataset, an image folder's class folders the same in both. Training runs check them
    before their first step, `nasiam eval` before computing features. Neither split may hold
    unlabelled images (label -1): only STL-10's unlabeled split has them, which the evaluation
    never reads, so a -1 here is a damaged label file, which kNN and the probe would count as
    misses (or, in the train split, leave them with nothing to learn from)."""
    # first: an extra class folder (val/.ipynb_checkpoints) is named, not seen as a label out of range
    _check_same_class_folders(dataset_name, info, bank, test)
    for name, dataset in (("train (the kNN bank and the linear probe)", bank), (info.eval_split, test)):
        if len(dataset) == 0:
            raise ValueError(f"the {name} split of {dataset_name} is empty: nothing to evaluate on")
        try:
            for index in (0, len(dataset) - 1):
                dataset[index]
        except (OSError, ValueError, IndexError, RuntimeError) as e:
            # an image's error names its file (at the end of str(e), which a cut would lose) and why
            named = isinstance(e, OSError) and isinstance(e.filename, str) and e.strerror
            what = (f"{shown_path(e.filename)}: {shown_path(e.strerror)}" if named
                    else f"{type(e).__name__}: {str(e)[:160]}")
            raise ValueError(f"the {name} split of {dataset_name} cannot be read ({what}); check the files under "
                             "--data_root") from None
        targets = getattr(dataset.dataset if isinstance(dataset, Subset) else dataset, "targets", None)
        if targets is not None and len(targets):
            labels = torch.as_tensor(targets)
            if int(labels.max()) >= info.num_classes or int(labels.min()) < 0:
                raise ValueError(f"the {name} split of {dataset_name} has labels outside 0..{info.num_classes - 1} "
                                 f"(found {int(labels.min())}..{int(labels.max())}){_UNLABELLED_NOTE if int(labels.min()) == -1 else ''}; "
                                 "its label file is damaged")


def _check_same_class_folders(dataset_name: str, info: DatasetInfo, bank: Dataset, test: Dataset) -> None:
    """An image folder numbers its classes by their sorted folder names, split by split: a
    test split missing or adding a class folder would shift every label after it, and kNN and
    the probe would score against the wrong classes."""
    bank_classes, test_classes = (getattr(d.dataset if isinstance(d, Subset) else d, "class_to_idx", None)
                                  for d in (bank, test))
    if bank_classes is None or test_classes is None or bank_classes == test_classes:
        return
    only_train, only_test = sorted(set(bank_classes) - set(test_classes)), sorted(set(test_classes) - set(bank_classes))
    # names that differ only in their Unicode normalisation (an NFC 'é' in one split, an NFD 'é',
    # e + U+0301, in the other: macOS and some archivers write NFD) print the same: shown escaped
    composed = {unicodedata.normalize("NFC", n) for n in only_train} & {unicodedata.normalize("NFC", n) for n in only_test}
    alike = {n for n in only_train + only_test if unicodedata.normalize("NFC", n) in composed}
    note = (" (names that print alike are shown escaped: the same names written in another Unicode normalisation, "
            "NFC and NFD; rename one split's folders to the other's form)" if alike else "")
    raise ValueError(f"the {info.eval_split} split of {dataset_name} has other class folders than its train split "
                     f"(only in train: {_names(only_train, alike)}; only in {info.eval_split}: "
                     f"{_names(only_test, alike)}){note}, so their labels would not match; give both splits the same "
                     "class folders")


def _names(names: list[str], escaped: set[str] = frozenset(), listed: int = 5) -> str:
    """The first `listed` names as a message shows them, those in `escaped` with every non-ASCII
    character as its code point ('e\\u0301')."""
    text = ", ".join(ascii(n) if n in escaped else shown(n) for n in names[:listed])
    return (text + f" and {len(names) - listed} more" if len(names) > listed else text) or "none"


@torch.no_grad()
def recalibrate_exported(heads: dict[str, nn.Module], backbone: nn.Module, dataset: Dataset, device,
                         batch_size: int, seed: int, batches: int = 8) -> None:
    """Re-estimate exported heads' BatchNorm statistics on their own inputs: backbone
    features (eval mode) for the projector, the projector's outputs for the predictor. The
    supernet's statistics describe a mixture of architectures (see nasiam.head.calibration)."""
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


def make_loader(dataset: Dataset | DeviceViewSet, cfg: RunConfig, shuffle: bool, drop_last: bool,
                batch_size: int | None = None, pin_memory: bool = False) -> DataLoader:
    if isinstance(dataset, DeviceViewSet):
        _check_data_device(cfg, dataset.device)
        # batches of augmented views made where the images are held; no workers, nothing to pin
        return device_loader(dataset, batch_size or cfg.batch_size, shuffle, drop_last)
    workers = cfg.num_workers
    # Workers are not persistent: each epoch draws its shuffle order and its workers' seeds
    # from the global RNG, which a checkpoint restores, so a resumed run sees the same batches
    # and augmentations as an uninterrupted one. Re-forking costs well under a second an epoch.
    return DataLoader(dataset, batch_size=batch_size or cfg.batch_size, shuffle=shuffle, drop_last=drop_last,
                      num_workers=workers, persistent_workers=False, pin_memory=pin_memory,
                      prefetch_factor=4 if workers > 0 else None)


def _check_data_device(cfg: RunConfig, device: torch.device | None) -> None:
    if device is None or device.type != "cuda":
        return
    if not torch.cuda.is_available():
        raise ConfigError("--data_device=gpu needs a CUDA GPU and this machine has none; use --data_device=auto "
                          "(DataLoader workers) or --data_device=cpu (batched augmentation on the CPU)")
    if training_device(cfg).type != "cuda":
        raise ConfigError(f"--data_device=gpu with --accelerator={cfg.accelerator}: the views would be made on the "
                          "GPU for a model trained on the CPU; use --accelerator=gpu, or --data_device=auto or cpu")
