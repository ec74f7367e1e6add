"""Weighted kNN classification of frozen features (Wu et al., 2018, the monitor used by most
SSL codebases): cosine similarity to a labelled memory bank, the top-k neighbours vote with
weight exp(similarity / T)."""
from __future__ import annotations

from typing import Iterable

import torch
import torch.nn.functional as F
from torch import Tensor


@torch.no_grad()
def extract_features(backbone: torch.nn.Module, batches: Iterable, device: torch.device | str = "cpu",
                     channels_last: bool = False) -> tuple[Tensor, Tensor]:
    """L2-normalised backbone features and labels of every batch, in eval mode (restored)."""
    was_training = backbone.training
    backbone.eval()
    feats, labels = [], []
    try:
        for images, targets in batches:
            images = images.to(device, non_blocking=True)
            if channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            feats.append(F.normalize(backbone(images).float(), dim=1).cpu())
            labels.append(torch.as_tensor(targets).cpu())
    finally:
        backbone.train(was_training)
    return torch.cat(feats), torch.cat(labels)


@torch.no_grad()
def knn_predict(bank: Tensor, bank_labels: Tensor, queries: Tensor, num_classes: int, k: int = 200,
                temperature: float = 0.1, chunk: int = 1024) -> Tensor:
    """Predicted class of each query (features L2-normalised)."""
    if bank.shape[0] == 0:
        raise ValueError("the kNN memory bank is empty")
    k = min(k, bank.shape[0])
    predictions = []
    for start in range(0, queries.shape[0], chunk):
        sim = queries[start:start + chunk] @ bank.T
        top_sim, top_idx = sim.topk(k, dim=1)
        votes = torch.zeros(sim.shape[0], num_classes, dtype=sim.dtype, device=sim.device)
        votes.scatter_add_(1, bank_labels[top_idx], (top_sim / temperature).exp())
        predictions.append(votes.argmax(dim=1))
    return torch.cat(predictions)


def knn_accuracy(bank: Tensor, bank_labels: Tensor, queries: Tensor, query_labels: Tensor, num_classes: int,
                 k: int = 200, temperature: float = 0.1) -> float:
    """Top-1 accuracy in percent."""
    keep = bank_labels >= 0  # unlabeled images (STL-10) have label -1
    predicted = knn_predict(bank[keep], bank_labels[keep], queries, num_classes, k, temperature)
    return float((predicted == query_labels).float().mean() * 100)
