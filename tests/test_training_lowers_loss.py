"""20 optimiser steps of each framework on the synthetic data lower its loss on fixed batches."""
import itertools

import pytest
import torch
from torch.utils.data import DataLoader

from nasiam.backbones import create_backbone, feature_dim
from nasiam.data import MultiViewTransform, augment_recipe, create_dataset, dataset_info
from nasiam.frameworks import create_framework

pytestmark = pytest.mark.slow  # twenty training steps of each framework

DIMS = {"simsiam": dict(proj_hidden_dim=128, proj_output_dim=128, pred_hidden_dim=32),
        "simclr": dict(proj_hidden_dim=128, proj_output_dim=64, temperature=0.5),
        "mocov2": dict(proj_hidden_dim=128, proj_output_dim=64, queue_size=128),
        "mocov3": dict(proj_hidden_dim=128, proj_output_dim=64, pred_hidden_dim=128)}


def _fixed_batches_loss(model, batches):
    with torch.no_grad():
        return sum(model.head_loss(model.encode(v), update_state=False)["loss"].item() for v in batches) / len(batches)


@pytest.mark.parametrize("name", list(DIMS))
def test_twenty_steps_lower_the_loss(name):
    transform = MultiViewTransform(augment_recipe(name, dataset_info("synthetic"), size=16))
    loader = DataLoader(create_dataset("synthetic", size=640, image_size=16, transform=transform),
                        batch_size=32, shuffle=True, drop_last=True, generator=torch.Generator().manual_seed(0))
    backbone = create_backbone("resnet10t", cifar_stem=True)
    model = create_framework(name, backbone, feature_dim(backbone), **DIMS[name])
    optimizer = torch.optim.Adam(model.weight_parameters(), lr=1e-3)
    batches = (batch for _ in itertools.count() for batch in loader)  # re-augments every epoch
    fixed = [next(batches)[0] for _ in range(3)]  # the same views before and after
    if name == "mocov2":  # fill the queue with the model's own keys first
        with torch.no_grad():
            for _ in range(4):
                model(next(batches)[0])
    before = _fixed_batches_loss(model, fixed)
    for _ in range(20):
        loss = model(next(batches)[0])["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        model.update_momentum(0.99)
    after = _fixed_batches_loss(model, fixed)
    assert after < before - 0.02, (before, after)
