"""The architecture update as `ArchitectureOptimizer.finish` took it before its operators were cut
(#35, item 2), kept verbatim as the reference the new one must equal bit for bit (test helper;
tests/test_architect.py patches `finish_before` in for `ArchitectureOptimizer.finish`)."""
from __future__ import annotations

import math

import torch
import torch.distributed as dist
from torch import Tensor

from nasiam._distributed import is_distributed
from nasiam.search.policy import SearchPolicy
from nasiam.search.update import ChoiceLayout


def update_logits_before(policy: SearchPolicy, layout: ChoiceLayout, logits: Tensor, grad: Tensor, exp_avg: Tensor,
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


@torch.no_grad()
def finish_before(self, progress: float | None = None, loss: Tensor | None = None) -> dict[str, float]:
    """`ArchitectureOptimizer.finish` before #35 item 2 (unbound: pass the optimizer as `self`)."""
    params = self.arch_params
    dtype = torch.promote_types(params[0].dtype, torch.float32)   # float64 logits keep their precision
    flat = torch.cat([torch.zeros_like(p) if p.grad is None else p.grad for p in params]).to(dtype)   # 1-D each
    for p in params:
        p.grad = None
    if is_distributed():
        dist.all_reduce(flat)
        flat /= dist.get_world_size()
    layout = self._choice_layout()
    logits = layout.pad(torch.cat([p.detach().reshape(-1) for p in params]).to(dtype))
    moments = self._moments or (torch.zeros_like(logits), torch.zeros_like(logits))
    new_logits, *new_moments, rms = update_logits_before(self.policy, layout, logits, layout.pad(flat), *moments,
                                                  self.arch_steps, progress)
    reg = torch.logsumexp(logits.masked_fill(layout.padding, -math.inf), dim=-1).mean()   # Beta-Decay's, before
    read = [torch.isfinite(flat).all().float(), rms.reshape(()), reg]
    values = torch.stack(read + ([loss.detach().float()] if loss is not None else [])).tolist()
    finite, rms, reg_value = values[:3]
    reported = {"arch_loss": values[3]} if loss is not None else {}
    if loss is not None and self.loss_scaling:
        self._update_loss_scale(bool(finite))
    if not finite:
        # identical on every rank (the average spreads a NaN), so every rank skips: a
        # loss-scaled fp16 step that overflowed, as GradScaler skips the weights' step
        return {**reported, "arch_skipped": 1.0}
    chunks = layout.unpad(new_logits).split(layout.sizes)
    torch._foreach_copy_(params, [c.view_as(p) for p, c in zip(params, chunks)])   # one kernel on a GPU
    self._moments = tuple(new_moments)
    if self.arch_steps == 0:
        self.first_progress = progress
    self.arch_steps += 1
    return {**reported, "beta_decay": reg_value, "arch_grad_rms": rms}
