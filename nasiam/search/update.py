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
        # `concat` / `pad_concat`: k flat vectors concatenated, then a zero their padding reads
        self.total = int(lengths.sum())
        self.zero = torch.zeros(1, device=device)   # a gradient the loss did not reach reads it
        self._stacked_gather: dict[int, Tensor] = {}

    def pad(self, flat: Tensor, fill: float = 0.0) -> Tensor:
        return flat[..., self._gather].masked_fill(self.padding, fill)

    def concat(self, vectors: Sequence[Sequence[Tensor]]) -> Tensor:
        """The pieces of k flat vectors (each `total` long) and a zero, concatenated in one
        operator, promoted together to at least float32; `pad_concat` pads it."""
        return torch.cat([piece.reshape(-1) for v in vectors for piece in v] + [self.zero])

    def pad_concat(self, concatenated: Tensor) -> Tensor:
        """`stack([pad(v) for v in vectors])` of a `concat(vectors)` in one gather, zero on the
        padding (which reads the zero), where each `pad` took a gather and a fill."""
        return concatenated[..., self.stacked_gather((concatenated.shape[-1] - 1) // self.total)]

    def stacked_gather(self, k: int) -> Tensor:
        """`pad_concat`'s indices for k vectors, made at the first call (before a compiled update
        traces it: the cache stays a plain dict, filled outside the graph)."""
        if k not in self._stacked_gather:
            real = self.padding.logical_not()
            self._stacked_gather[k] = torch.stack([torch.where(real, self._gather + i * self.total, k * self.total)
                                                   for i in range(k)])
        return self._stacked_gather[k]

    def tensors(self) -> list[Tensor]:
        """The index and mask tensors the update reads (a CUDA-graphed update marks them static:
        made once, they need no copy into the graph's inputs at each replay)."""
        return [self.counts, self.mask, self.padding, self._gather, self._scatter, self.zero,
                *self._stacked_gather.values()]

    def unpad(self, padded: Tensor) -> Tensor:
        return padded.flatten(-2)[..., self._scatter]

    def centre(self, padded: Tensor) -> Tensor:
        """Each choice's entries minus their mean, padding kept at zero. The padding must be zero
        on the way in (as `pad` and `pad_concat` leave it), so the sum needs no mask."""
        return (padded - padded.sum(-1, keepdim=True) / self.counts) * self.mask


def update_logits(policy: SearchPolicy, layout: ChoiceLayout, logits: Tensor, grad: Tensor, exp_avg: Tensor,
                  exp_avg_sq: Tensor, step: int | Tensor, progress: float | None, *, flat_grad: Tensor | None = None,
                  masked_logits: Tensor | None = None, beta: Tensor | None = None
                  ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """New logits and Adam moments from the loss gradient `grad`, `step` updates taken, all in
    `layout`'s padded form (zero on the padding), and the gradient's RMS per run; pure.

    1. Divide `grad` by its RMS over all logits (`policy.normalize`): SSL losses move the logits
       very little (|grad| ~ 1e-4 - 1e-3), and a regulariser of order one would drown that.
    2. Add Beta-Decay's gradient, `beta(progress) * softmax(alpha)` per choice.
    3. Centre each choice: a uniform shift leaves its softmax unchanged, but Adam's
       per-coordinate scaling would turn it into moves that cancel the signal.
    4. Adam (lr, betas, L2 weight decay), operation for operation as `torch.optim.Adam` (bit
       for bit on a CPU).

    A caller that holds them passes `flat_grad` (`layout.unpad(grad)`, the RMS is taken over it)
    and `masked_logits` (`logits` with -inf on the padding): the same numbers, without the
    operators that would make them again (`ArchitectureOptimizer.finish`, where each is a launch).

    A captured graph (`nasiam.search.graphs`) cannot take a new Python number at each call: it
    passes `step` and Beta-Decay's weight `beta` as 0-d float64 tensors (then `progress` is not
    read; float64 as the Python numbers they replace: Adam's bias corrections in float32 would be
    1e-5 off). The regulariser's term is then always computed where the policy
    has one (a graph does not branch on a value), and Adam's bias corrections are tensors: the
    same update to float rounding, not bit for bit.
    """
    flat_grad = layout.unpad(grad) if flat_grad is None else flat_grad
    rms = flat_grad.pow(2).mean(-1).sqrt()[..., None, None]   # summed as the flat vector: as before
    if policy.normalize:
        # 1 / rms, and 1 where the gradient is zero (or so small that its inverse overflows,
        # which would have turned the logits to inf; NaN only comes with a skipped update)
        grad = grad * rms.reciprocal().nan_to_num(nan=1.0, posinf=1.0)
    if beta is None:
        beta = policy.beta(progress)
        regularised = beta > 0
    else:
        regularised = policy.beta_weight > 0
    if regularised:
        if masked_logits is None:
            masked_logits = logits.masked_fill(layout.padding, -math.inf)
        grad = grad + beta * torch.softmax(masked_logits, dim=-1)
    grad = layout.centre(grad)   # per choice
    if policy.weight_decay:
        grad = grad.add(logits, alpha=policy.weight_decay)
    (beta1, beta2), t = policy.betas, step + 1
    exp_avg = exp_avg.lerp(grad, 1 - beta1)
    exp_avg_sq = exp_avg_sq.mul(beta2).addcmul_(grad, grad, value=1 - beta2)
    if isinstance(t, Tensor):   # on the device (a graphed update): `addcdiv` takes no tensor `value`
        denominator = (exp_avg_sq.sqrt() / (1 - beta2 ** t).sqrt()).add_(1e-8)
        return logits.addcdiv(exp_avg * (-policy.lr / (1 - beta1 ** t)), denominator), exp_avg, exp_avg_sq, rms
    denominator = (exp_avg_sq.sqrt() / (1 - beta2 ** t) ** 0.5).add_(1e-8)   # Adam's eps
    logits = logits.addcdiv(exp_avg, denominator, value=-(policy.lr / (1 - beta1 ** t)))
    return logits, exp_avg, exp_avg_sq, rms
