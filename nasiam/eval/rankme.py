"""RankMe: a label-free score of representation quality (Garrido et al., arXiv 2210.02885).

The effective rank of a matrix of embeddings: with the singular values s of the (N, D)
embedding matrix, p_k = s_k / ||s||_1 + eps and RankMe = exp(-sum_k p_k log p_k). It lies in
[1, min(N, D)]; the paper shows that within one method, representations with a higher
RankMe tend to give higher downstream accuracy, so it can choose between hyper-parameters
(here: heads) without labels. The paper computes it on ~25,600 samples and does not centre
the embeddings; neither do we (centring is what `nasiam.search.monitor.effective_rank`, a
collapse diagnostic, does).
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["rankme"]

EPS = 1e-7  # the paper's epsilon, which keeps log(0) out of zero singular values


@torch.no_grad()
def rankme(embeddings: Tensor, eps: float = EPS) -> float:
    """RankMe of `embeddings` (N, D): a float in [1, min(N, D)] (up to eps)."""
    if embeddings.ndim != 2 or min(embeddings.shape) < 1:
        raise ValueError(f"rankme expects a non-empty (N, D) matrix, got shape {tuple(embeddings.shape)}")
    s = torch.linalg.svdvals(embeddings.double())
    p = s / s.sum().clamp_min(torch.finfo(torch.float64).tiny) + eps
    return float(torch.exp(-(p * torch.log(p)).sum()))
