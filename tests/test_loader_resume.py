"""A resumed run must see the same batches as an uninterrupted one, with worker processes too.

The checkpoint restores the global RNG at an epoch boundary; the loader must then draw its
shuffle order and its workers' augmentation seeds from that state, as it did in the
uninterrupted run. Persistent workers break this: they draw their seed once, at the first
epoch, so a loader rebuilt mid-run draws one more number and every later batch differs.
"""
import torch

from nasiam.config import RunConfig
from nasiam.data import MultiViewTransform, SyntheticImages, augment_recipe, dataset_info
from nasiam.runner.build import make_loader


def _dataset():
    transform = MultiViewTransform(augment_recipe("simsiam", dataset_info("cifar10")))
    return SyntheticImages(size=32, image_size=32, transform=transform)


def _epoch(loader):
    return [views[0].clone() for views, _ in loader]


def test_a_rebuilt_loader_continues_the_epochs_of_the_original_with_workers():
    cfg = RunConfig(num_workers=1, batch_size=8)
    torch.manual_seed(0)
    original = make_loader(_dataset(), cfg, shuffle=True, drop_last=True)
    _epoch(original)
    state_after_first_epoch = torch.get_rng_state()  # what a checkpoint at epoch 1 holds
    second = _epoch(original)

    torch.set_rng_state(state_after_first_epoch)  # --resume
    resumed = _epoch(make_loader(_dataset(), cfg, shuffle=True, drop_last=True))
    assert len(resumed) == len(second) == 4
    for a, b in zip(resumed, second):
        torch.testing.assert_close(a, b)


def _ddp_loader():
    """A Fabric-wrapped loader over rank 0's share of a DistributedSampler (what
    `setup_dataloaders` builds under DDP), without starting a process group."""
    from lightning_fabric.wrappers import _FabricDataLoader
    from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

    data = TensorDataset(torch.arange(64))
    return _FabricDataLoader(DataLoader(data, batch_size=8,
                                        sampler=DistributedSampler(data, num_replicas=2, rank=0, shuffle=True)))


def _order(batches):
    return [int(i) for (batch,) in batches for i in batch]


def test_a_resumed_ddp_epoch_shuffles_like_the_uninterrupted_one():
    from nasiam.runner.loop import Run

    uninterrupted = _ddp_loader()
    for epoch in range(3):
        Run.set_sampler_epoch(None, uninterrupted, epoch)
        third = _order(uninterrupted)
    resumed = _ddp_loader()              # a new process: Fabric's pass count starts again at 0
    Run.set_sampler_epoch(None, resumed, 2)
    assert _order(resumed) == third


def test_a_resumed_pass_of_an_endless_ddp_loader_continues_its_shuffle():
    from nasiam.runner.batches import ResumableBatches

    loader = _ddp_loader()
    batches = ResumableBatches(loader, endless=True)
    for _ in range(4 + 2):               # one pass of 4 batches, then 2 of the next
        next(batches)
    position = batches.position()
    rest = _order(next(batches) for _ in range(2))
    replayed = ResumableBatches(_ddp_loader(), endless=True, position=position)
    assert _order(next(replayed) for _ in range(2)) == rest
