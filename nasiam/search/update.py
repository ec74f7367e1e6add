"""The architecture update, written once: `update_logits` is what `ArchitectureOptimizer.finish`
applies and what the noise floor (`nasiam.search.decisions`) simulates on Gaussian gradients,
so the floor judges exactly the optimiser the search ran. The logits of all choices travel as
one tensor padded per choice (`ChoiceLayout`), with a leading batch of runs in the simulation."""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor

from nasiam.search.policy import SearchPolicy

__all__ = ["ChoiceLayout", "update_logits"]


class ChoiceLayout:
    """Logit vectors of different lengths (one per choice) as one `[..., choices, max options]`
    tensor: `pad` gathers a flat concatenation `[..., sum(sizes)]` into it, padding filled with
    `fill`; `unpad` gives the flat form back; `padding` is True, `mask` 0, off the real options."""

    def __init__(self, sizes: Sequence[int], device: torch.device | str = "cpu"):
        columns, lengths = torch.arange(max(sizes)), torch.tensor(list(sizes))
        offsets = lengths.cumsum(0) - lengths
        real = columns[None, :] < lengths[:, None]
        self.sizes = list(sizes)
        self.counts = lengths.float()[:, None].to(device)
        self.mask = real.float().to(device)
        self.padding = (~real).to(device)
        self._gather = torch.where(real, offsets[:, None] + columns[None, :], 0).to(device)
        self._scatter = real.reshape(-1).nonzero().squeeze(1).to(device)   # padded positions of the real entries

    def pad(self, flat: Tensor, fill: float = 0.0) -> Tensor:
        return flat[..., self._gather].masked_fill(self.padding, fill)

    def unpad(self, padded: Tensor) -> Tensor:
        return padded.flatten(-2)[..., self._scatter]

    def centre(self, padded: Tensor) -> Tensor:
        """Each choice's entries minus their mean, padding set to zero."""
        return (padded - (padded * self.mask).sum(-1, keepdim=True) / self.counts) * self.mask


def update_logits(policy: SearchPolicy, layout: ChoiceLayout, logits: Tensor, grad: Tensor, exp_avg: Tensor,
                  exp_avg_sq: Tensor, step: int, progress: float | None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """New logits and Adam moments from the loss gradient `grad`, `step` updates taken, all in
    `layout`'s padded form (zero on the padding), and the gradient's RMS per run; pure.

    1. Divide `grad` by its RMS over all logits (`policy.normalize`): SSL losses move the logits
       very little (|grad| ~ 1e-4 - 1e-3), and a regulariser of order one would drown that.
    2. Add Beta-Decay's gradient, `beta(progress) * softmax(alpha)` per choice.
    3. Centre each choice: a uniform shift leaves its softmax unchanged, but Adam's
       per-coordinate scaling would turn it into moves that cancel the signal.
    4. Adam (lr, betas, L2 weight decay), operation for operation as `torch.optim.Adam` (bit
       for bit on a CPU).
    """
    rms = layout.unpad(grad).pow(2).mean(-1).sqrt()[..., None, None]   # summed as the flat vector: as before
    if policy.normalize:
        grad = grad * torch.where(rms > 0, rms.reciprocal(), torch.ones_like(rms))
    beta = policy.beta(progress)
    if beta > 0:
        grad = grad + beta * torch.softmax(logits.masked_fill(layout.padding, -math.inf), dim=-1)
    grad = layout.centre(grad)
    if policy.weight_decay:
        grad = grad.add(logits, alpha=policy.weight_decay)
    (beta1, beta2), t = policy.betas, step + 1
    exp_avg = exp_avg.lerp(grad, 1 - beta1)
    exp_avg_sq = exp_avg_sq.mul(beta2).addcmul_(grad, grad, value=1 - beta2)
    denominator = (exp_avg_sq.sqrt() / (1 - beta2 ** t) ** 0.5).add_(1e-8)   # Adam's eps
    logits = logits.addcdiv(exp_avg, denominator, value=-(policy.lr / (1 - beta1 ** t)))
    return logits, exp_avg, exp_avg_sq, rms
