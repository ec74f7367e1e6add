"""Regularisers on architecture logits."""
from __future__ import annotations

from typing import Iterable

import torch
from torch import Tensor


def beta_decay(arch_parameters: Iterable[Tensor]) -> Tensor:
    """Beta-Decay (Ye et al., beta-DARTS, CVPR 2022): the mean over choices of
    `logsumexp(alpha)`, a smooth maximum of each choice's logits.

    DARTS collapses onto parameter-free options (skip, identity) because their logits grow
    fastest early on; penalising the largest logit of each choice keeps all of them small
    and the softmax away from a premature one-hot, without biasing which option wins.
    """
    terms = [torch.logsumexp(alpha, dim=-1) for alpha in arch_parameters]
    if not terms:
        raise ValueError("no architecture parameters to regularise")
    return torch.stack(terms).mean()
