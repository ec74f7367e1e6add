"""Datasets held once as a uint8 tensor on the training device, batched into augmented views there.

    images = DeviceImages.from_dataset(create_dataset("cifar10", root)).move_to("cuda")
    loader = device_loader(DeviceViewSet(images, recipe=augment_recipe("simsiam", info)), batch_size=512)
    for views, labels in loader:            # views: [v1, v2], float32 (512, 3, 32, 32) on the GPU
        ...

In-memory datasets (CIFAR, Fashion-MNIST, STL-10, the synthetic set) fit on a GPU as uint8. A
batch is then an index gather plus `BatchedViews`, with nothing crossing the PCIe bus and no
worker process: the GPU is not left waiting for CPU workers to augment 32 px images.

`device_loader` returns a `DataLoader` (no workers, one item per batch) so it goes through
Fabric's `setup_dataloaders` and the runner's loops like the worker pipeline.

Order and randomness, per pass: a permutation of the images (drawn on the CPU, so it does not
depend on the device), cut into `world_size` equal disjoint shards, this rank's shard cut into
batches (the incomplete last batch dropped with `drop_last`); augmentations drawn from a
generator on the device, seeded by the pass and the rank. The pass's seed is
  - with `seed=None` (the runner): drawn from torch's global generator when the pass begins,
    as a DataLoader's RandomSampler does, and taken from rank 0 under DDP, so every rank cuts
    the same permutation; a checkpoint that restores the global generator replays the pass;
  - with `seed=s`: a function of (s, epoch), `set_epoch(epoch)` choosing the epoch (as
    DistributedSampler): the same seed and epoch give the same batches and views.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, IterableDataset

from nasiam._distributed import is_distributed
from nasiam.data.batched_augment import BatchedViews
from nasiam.data.datasets import ArrayImageDataset, SyntheticImages
from nasiam.data.transforms import AugmentRecipe

__all__ = ["DeviceImages", "DeviceViewSet", "DeviceBatches", "device_loader", "shard_batches", "can_hold"]


class DeviceImages:
    """A whole dataset's images as one uint8 (N, C, H, W) tensor, and its labels (N,)."""

    def __init__(self, images: torch.Tensor, targets: torch.Tensor):
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(f"expected uint8 (N, C, H, W) images, got {images.dtype} {tuple(images.shape)}")
        if len(images) != len(targets):
            raise ValueError(f"{len(images)} images but {len(targets)} labels")
        self.images, self.targets = images, targets.long()

    @classmethod
    def from_dataset(cls, dataset: Dataset, indices: list[int] | None = None) -> DeviceImages:
        """The images of an in-memory dataset (`ArrayImageDataset`, `SyntheticImages`), only those
        at `indices` when given, on the CPU."""
        if isinstance(dataset, ArrayImageDataset):
            chosen = np.arange(len(dataset)) if indices is None else np.asarray(indices, dtype=np.int64)
            # reads only these rows of a memory-mapped array (STL-10's unlabeled split is 2.7 GB)
            array = np.ascontiguousarray(dataset.images[chosen])
            images = torch.from_numpy(array).permute(0, 3, 1, 2).contiguous()
            return cls(images, torch.from_numpy(dataset.targets[chosen]))
        if isinstance(dataset, SyntheticImages):
            transform, dataset.transform = dataset.transform, None  # the raw uint8 images
            try:
                chosen = range(len(dataset)) if indices is None else indices
                items = [dataset[i] for i in chosen]
            finally:
                dataset.transform = transform
            return cls(torch.stack([torch.as_tensor(image) for image, _ in items]),
                       torch.tensor([label for _, label in items]))
        raise TypeError(f"{type(dataset).__name__} is not held in memory as uint8 arrays; device-resident data "
                        "needs CIFAR-10/100, STL-10, Fashion-MNIST or the synthetic set")

    @property
    def device(self) -> torch.device:
        return self.images.device

    @property
    def nbytes(self) -> int:
        return self.images.numel() * self.images.element_size()

    def move_to(self, device: torch.device | str) -> DeviceImages:
        """Move the tensors to `device` in place: every `DeviceViewSet` sharing this storage (the
        two halves of a search) then finds it there, and the images exist once on the device."""
        device = torch.device(device)
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
        if self.device != device:
            self.images, self.targets = self.images.to(device), self.targets.to(device)
        return self

    def __len__(self) -> int:
        return len(self.images)


@dataclass
class DeviceViewSet:
    """The images at `indices` of `storage` (shared by the halves of a search) and the recipe
    of their views: a device-resident `Subset(dataset_with_MultiViewTransform, indices)`.
    `device`: where the loader will put the storage (None: where it already is)."""

    storage: DeviceImages
    indices: torch.Tensor
    recipe: AugmentRecipe
    n_views: int = 2
    device: torch.device | None = None

    def __post_init__(self):
        self.indices = torch.as_tensor(self.indices, dtype=torch.long)
        if self.n_views < 2:
            raise ValueError("siamese methods need at least two views")

    def __len__(self) -> int:
        return len(self.indices)


def shard_batches(n: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1, shuffle: bool = True,
                  drop_last: bool = True) -> list[torch.Tensor]:
    """This rank's batches of positions in range(n) for a pass seeded `seed` (CPU tensors): a
    permutation shared by all ranks, cut into `world_size` equal disjoint shards (the remainder
    left out, so every rank takes the same number of steps), then into batches."""
    # torch's words were "split_size can only be 0 ...", "Overflow when unpacking long long" (#33 probe 21,
    # S16), "split_sizes must be tuple of ints, not float" or "negative dimension -5"; world_size 0 blamed
    # the rank (#33 probe 22, T7)
    for name, value, least in (("n", n, 0), ("batch_size", batch_size, 1), ("world_size", world_size, 1)):
        if not _is_integer(value) or value < least:
            raise ValueError(f"{name} must be an integer of at least {least}, got {value!r}")
    if not _is_integer(rank) or not 0 <= rank < world_size:
        raise ValueError(f"rank {rank!r} is not in [0, {world_size}) (an integer below world_size)")
    if not _is_integer(seed) or not -2 ** 63 <= seed < 2 ** 64:
        raise ValueError(f"seed must be an integer in [-2**63, 2**64) (a torch generator's seed), got {seed!r}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)) if shuffle else torch.arange(n)
    per_rank = n // world_size
    shard = order[rank: per_rank * world_size: world_size]
    batches = list(shard.split(batch_size)) if len(shard) else []   # (split makes one empty batch of nothing)
    if drop_last and batches and len(batches[-1]) < batch_size:
        batches.pop()
    return batches


def _is_integer(value: object) -> bool:
    """An int (numpy's too), not a bool or a float: torch's split and manual_seed take no other."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _batch_count(n: int, batch_size: int, world_size: int, drop_last: bool) -> int:
    per_rank = n // world_size
    return per_rank // batch_size if drop_last else -(-per_rank // batch_size)


def _mix(*values: int) -> int:
    """A 63-bit seed from integers (splitmix64), so nearby seeds give unrelated streams."""
    z = 0x9E3779B97F4A7C15
    for v in values:
        z = (z ^ (v & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB & 0xFFFFFFFFFFFFFFFF
        z ^= z >> 31
    return z & 0x7FFFFFFFFFFFFFFF


class DeviceBatches(IterableDataset):
    """One pass of (views, labels) batches over a `DeviceViewSet` (see the module docstring)."""

    def __init__(self, views: DeviceViewSet, batch_size: int, shuffle: bool = True, drop_last: bool = True,
                 rank: int = 0, world_size: int = 1, seed: int | None = None):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.views, self.batch_size, self.shuffle, self.drop_last = views, batch_size, shuffle, drop_last
        self.rank, self.world_size, self.seed, self.epoch = rank, world_size, seed, 0
        self.augment = BatchedViews(views.recipe)
        self._device_indices: torch.Tensor | None = None

    def __len__(self) -> int:
        return _batch_count(len(self.views), self.batch_size, self.world_size, self.drop_last)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _pass_seed(self) -> int:
        if self.seed is not None:
            return _mix(self.seed, self.epoch)
        seed = int(torch.randint(0, 2**62, (1,)).item())  # from the global generator: a checkpoint restores it
        if self.world_size > 1 and is_distributed():
            shared = [seed]
            dist.broadcast_object_list(shared, src=0)  # one permutation for all ranks, once a pass
            seed = shared[0]
        return seed

    def __iter__(self) -> Iterator[tuple[list[torch.Tensor], torch.Tensor]]:
        storage = self.views.storage
        device = storage.device
        if self._device_indices is None or self._device_indices.device != device:
            self._device_indices = self.views.indices.to(device)
        seed = self._pass_seed()
        batches = shard_batches(len(self.views), self.batch_size, seed, self.rank, self.world_size, self.shuffle,
                                self.drop_last)
        generator = torch.Generator(device=device).manual_seed(_mix(seed, self.rank, 1))
        positions = torch.cat(batches).to(device) if batches else None  # one copy a pass, not one a batch
        return self._batches(positions, [len(b) for b in batches], generator)

    def _batches(self, positions, sizes, generator):
        storage, start = self.views.storage, 0
        for size in sizes:
            index = self._device_indices[positions[start: start + size]]
            start += size
            images = storage.images[index]
            # all views of the batch in one call: one kernel launch per step for every view
            views = self.augment(images.repeat(self.views.n_views, 1, 1, 1), generator)
            yield list(views.chunk(self.views.n_views)), storage.targets[index]


def _as_is(batch):
    return batch


def device_loader(views: DeviceViewSet, batch_size: int, shuffle: bool = True, drop_last: bool = True,
                  rank: int | None = None, world_size: int | None = None, seed: int | None = None) -> DataLoader:
    """A DataLoader of (views, labels) batches augmented where `views.storage` lives (moved to
    `views.device` first when that is set). Rank and world size default to torch.distributed's."""
    if views.device is not None:
        views.storage.move_to(views.device)
    if rank is None or world_size is None:
        rank, world_size = (dist.get_rank(), dist.get_world_size()) if is_distributed() else (0, 1)
    batches = DeviceBatches(views, batch_size, shuffle, drop_last, rank, world_size, seed)
    # batch_size=None: each item is already a batch; no workers: the work is on the device
    return DataLoader(batches, batch_size=None, num_workers=0, collate_fn=_as_is)


def can_hold(nbytes: int, device: torch.device, share: float = 0.25) -> bool:
    """Whether `nbytes` take at most `share` of the device's free memory (always on a CPU)."""
    if device.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(device)
    return nbytes <= share * free
