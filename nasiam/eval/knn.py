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


# The two settings of the SSL literature: solo-learn (k=20, T=0.07) and lightly/InstDisc
# (k=200, T=0.1), both with the full training set as the memory bank.
KNN_SETTINGS = ((20, 0.07), (200, 0.1))


@torch.no_grad()
def knn_predict_settings(bank: Tensor, bank_labels: Tensor, queries: Tensor, num_classes: int,
                         settings=KNN_SETTINGS, chunk: int = 1024) -> dict[tuple[int, float], Tensor]:
    """Predicted class of each query for every (k, temperature) in `settings`, from one pass
    over the bank (the largest k's neighbours contain the smaller ones'). Features L2-normalised."""
    if bank.shape[0] == 0:
        raise ValueError("the kNN memory bank is empty")
    for k, temperature in settings:
        if k < 1 or temperature <= 0:
            raise ValueError(f"kNN needs k >= 1 and a positive temperature, got k={k}, T={temperature}")
    k_max = min(max(k for k, _ in settings), bank.shape[0])
    predictions: dict[tuple[int, float], list[Tensor]] = {s: [] for s in settings}
    for start in range(0, queries.shape[0], chunk):
        sim = queries[start:start + chunk] @ bank.T
        top_sim, top_idx = sim.topk(k_max, dim=1)   # sorted: the first k columns are the k nearest
        top_labels = bank_labels[top_idx]
        for setting in settings:
            k, temperature = min(setting[0], k_max), setting[1]
            votes = torch.zeros(sim.shape[0], num_classes, dtype=sim.dtype, device=sim.device)
            votes.scatter_add_(1, top_labels[:, :k], (top_sim[:, :k] / temperature).exp())
            predictions[setting].append(votes.argmax(dim=1))
    return {s: torch.cat(p) if p else torch.empty(0, dtype=torch.long) for s, p in predictions.items()}


@torch.no_grad()
def knn_predict(bank: Tensor, bank_labels: Tensor, queries: Tensor, num_classes: int, k: int = 200,
                temperature: float = 0.1, chunk: int = 1024) -> Tensor:
    """Predicted class of each query (features L2-normalised)."""
    return knn_predict_settings(bank, bank_labels, queries, num_classes, ((k, temperature),), chunk)[(k, temperature)]


def knn_accuracy(bank: Tensor, bank_labels: Tensor, queries: Tensor, query_labels: Tensor, num_classes: int,
                 k: int = 200, temperature: float = 0.1) -> float:
    """Top-1 accuracy in percent."""
    keep = bank_labels >= 0  # unlabeled images (STL-10) have label -1
    predicted = knn_predict(bank[keep], bank_labels[keep], queries, num_classes, k, temperature)
    return float((predicted == query_labels).float().mean() * 100)
