"""Linear probe: a linear classifier on frozen, precomputed features (the offline protocol).

Features are extracted once (no augmentation), standardised with the training set's
statistics, and a softmax regression is fitted with Adam and a cosine schedule. Cheap
enough to run on a CPU after every pretraining, and stable across runs.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class LinearProbeResult:
    train_top1: float
    test_top1: float
    epochs: int


def linear_probe(train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor, num_classes: int,
                 epochs: int = 100, lr: float = 1e-2, weight_decay: float = 1e-4, batch_size: int = 1024,
                 seed: int = 0) -> LinearProbeResult:
    """Fit `Linear(d, num_classes)` on (train_x, train_y); top-1 accuracies in percent."""
    keep = train_y >= 0
    train_x, train_y = train_x[keep].float(), train_y[keep]
    if len(train_x) == 0:
        raise ValueError("the linear probe needs labelled training features")
    mean, std = train_x.mean(0, keepdim=True), train_x.std(0, keepdim=True).clamp_min(1e-6)
    train_x, test_x = (train_x - mean) / std, (test_x.float() - mean) / std
    g = torch.Generator().manual_seed(seed)
    classifier = nn.Linear(train_x.shape[1], num_classes)
    with torch.no_grad():
        classifier.weight.normal_(0, 0.01, generator=g)
        classifier.bias.zero_()
    optimizer = torch.optim.Adam(classifier.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * max(1, -(-len(train_x) // batch_size))
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    for _ in range(epochs):
        order = torch.randperm(len(train_x), generator=g)
        for start in range(0, len(train_x), batch_size):
            idx = order[start:start + batch_size]
            loss = F.cross_entropy(classifier(train_x[idx]), train_y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    with torch.no_grad():
        train_acc = (classifier(train_x).argmax(1) == train_y).float().mean().item() * 100
        test_acc = (classifier(test_x).argmax(1) == test_y).float().mean().item() * 100
    return LinearProbeResult(train_acc, test_acc, epochs)
