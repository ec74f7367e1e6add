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
