"""Semi-supervised fine-tuning: backbone + linear classifier trained end to end on a small,
class-balanced, seeded share of the labels (1 % or 10 %, as in SimCLR and SSWP-NAS), then
evaluated on the test split. The initialisation is what is compared: the search's preserved
weights, two-stage pretraining, or random."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader

from nasiam.backbones import feature_dim


@dataclass(frozen=True)
class FinetuneResult:
    labelled_images: int
    test_top1: float
    epochs: int


def finetune(backbone: nn.Module, train_loader: DataLoader, test_loader: DataLoader, num_classes: int,
             epochs: int = 20, lr: float = 0.05, classifier_lr: float | None = None, weight_decay: float = 5e-4,
             device: torch.device | str = "cpu", seed: int = 0) -> FinetuneResult:
    """Fine-tune `backbone` (modified in place) with a fresh linear head; top-1 in percent."""
    torch.manual_seed(seed)
    device = torch.device(device)
    classifier = nn.Linear(feature_dim(backbone), num_classes).to(device)
    backbone.to(device)
    optimizer = torch.optim.SGD([{"params": backbone.parameters(), "lr": lr},
                                 {"params": classifier.parameters(), "lr": classifier_lr or lr * 10}],
                                momentum=0.9, weight_decay=weight_decay, nesterov=True)
    steps = max(1, epochs * len(train_loader))
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    labelled = len(train_loader.dataset)
    for _ in range(epochs):
        backbone.train()
        for images, labels in train_loader:
            images, labels = images.to(device), labels.to(device)
            loss = F.cross_entropy(classifier(backbone(images)), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    backbone.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in test_loader:
            predicted = classifier(backbone(images.to(device))).argmax(1).cpu()
            correct += int((predicted == labels).sum())
            total += len(labels)
    return FinetuneResult(labelled, 100.0 * correct / max(1, total), epochs)
