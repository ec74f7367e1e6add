"""DirectPred (Tian, Chen & Ganguli, ICML 2021, arXiv 2102.06810): a linear predictor that is
set in closed form from the statistics of its input instead of trained.

Each training forward folds the batch's second-moment matrix of the predictor's input f (the
projector's output) into a running estimate,

    F <- rho * F + (1 - rho) * E_batch[f f^T],

and sets the predictor from F's eigendecomposition F = U diag(s) U^T:

    W = U diag(p) U^T,   p_j = sqrt(max(s_j, 0) / max_k s_k) + eps.

The paper finds this predictor comparable to a 2-layer MLP predictor with BatchNorm (BYOL's,
on ImageNet) and better than a linear predictor trained by gradient descent (by 2.5 % top-1 at
300 epochs, 5 % at 60). The defaults are those of the authors' published command (facebookresearch/luckmatters,
ssl/real-dataset: `predictor_reg=corr`, `predictor_freq=1`, `dyn_lambda=0.3`, `dyn_eps=0.01`,
`balance_type=boost_scale`, square root).

W and F are buffers, not parameters: no optimizer touches them, gradients flow through W to the
projector as through any fixed linear map, and checkpoints and `NASHead.save_pretrained` keep
them, so a resumed run or an exported head continues with the same predictor. In eval mode,
under `torch.no_grad()` or inside `frozen_statistics` the statistics are left alone.

One difference from the authors' trainer, which updates once per step with both views' mean:
here every training forward is one update, so a framework that calls the predictor once per view
(SimSiam) updates twice a step. `rho` is per update; the default is the square root of the
authors' per-step 0.3, so old statistics decay by the same 0.3 a step.
"""
from __future__ import annotations

import contextlib
import math
from typing import Iterator

import torch
import torch.distributed as dist
import torch.nn as nn
from torch import Tensor

from nasiam._distributed import is_distributed, world_size

__all__ = ["DirectPredLinear", "RHO", "EPS", "frozen_statistics"]

RHO = math.sqrt(0.3)   # per update; two updates a step (one per view) keep the authors' 0.3 a step
EPS = 0.01


class DirectPredLinear(nn.Module):
    """`x -> x W` with W set from the running correlation of x (see the module docstring).

    Args:
        dim: the width of the input, which is also the output's.
        rho: how much of the running estimate each update keeps, in [0, 1).
        eps: added to every eigenvalue's share p_j (>= 0): it keeps the directions of small
            variance alive.
        every: recompute W every this many updates (the statistics are updated every time);
            the eigendecomposition of a `dim x dim` matrix is the cost, so a large `dim` on a
            fast accelerator may want 5 or 10.
    """

    frozen = False   # set by `frozen_statistics`: use W, update nothing

    def __init__(self, dim: int, rho: float = RHO, eps: float = EPS, every: int = 1):
        super().__init__()
        if not 0.0 <= rho < 1.0:
            raise ValueError(f"rho must be in [0, 1), got {rho}")
        if not eps >= 0.0:
            raise ValueError(f"eps must be >= 0, got {eps}")
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.dim, self.rho, self.eps, self.every = dim, float(rho), float(eps), int(every)
        self.register_buffer("weight", torch.eye(dim))           # identity until the first update
        self.register_buffer("correlation", torch.zeros(dim, dim))
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))
        self._updates: int | None = None   # a host copy of `updates`: no device read per step
        self._frozen_weight: Tensor | None = None   # W as `frozen_statistics` found it (`applied_weight`)

    def forward(self, x: Tensor) -> Tensor:
        # W is symmetric: x W is the map a Linear with weight W applies
        out = x @ self.applied_weight.to(x.dtype)
        self.track(x)
        return out

    @property
    def applied_weight(self) -> Tensor:
        """The W a forward applies: `weight`, or inside `frozen_statistics` (architecture steps)
        a copy of it taken on entry, the same numbers at an address that stays. `weight` is a new
        tensor after every update (see `observe`), and a CUDA-graphed architecture update
        (`nasiam.search.graphs`) reads module buffers at fixed addresses: a new one would make
        it record its graph again at every step."""
        return self._frozen_weight if self.frozen and self._frozen_weight is not None else self.weight

    @torch.no_grad()
    def _freeze_weight(self) -> None:
        """`applied_weight` while frozen: W copied into the tensor kept for it (made again only
        when W's shape, dtype or device changed). A plain attribute, not a buffer: neither saved,
        nor broadcast by DDP, nor counted in a head's size."""
        kept = self._frozen_weight
        if kept is None or (kept.shape, kept.dtype, kept.device) != (self.weight.shape, self.weight.dtype,
                                                                      self.weight.device):
            self._frozen_weight = self.weight.detach().clone()
        else:
            kept.copy_(self.weight)

    def track(self, x: Tensor) -> None:
        """What a forward does to the statistics, without applying W: fold `x` in when training
        with gradients on (see `observe`). A searched predictor calls it on the steps that run
        another candidate, so that W follows the predictor's input on every training step and
        every DDP rank makes the same collective calls whatever candidate it sampled."""
        # `frozen` (architecture steps) is read here too: calling `observe`, a compiler-disabled
        # function, breaks a compiled graph, which a CUDA-graphed architecture update
        # (`nasiam.search.graphs`, fullgraph) must not; its steps are always frozen, so the
        # guard this adds never flips within one compiled caller
        if self.training and torch.is_grad_enabled() and not self.frozen:
            self.observe(x.detach())

    @torch.compiler.disable   # host-side bookkeeping and an eigendecomposition: left out of compiled graphs
    @torch.no_grad()
    def observe(self, features: Tensor) -> None:
        """Fold a batch of inputs into the running correlation; recompute W when due."""
        if self.frozen:   # checked here, outside compiled graphs: no recompile when it flips
            return
        f = features.float()
        second = f.T @ f / max(f.shape[0], 1)
        if is_distributed():
            # every rank keeps the same W: average the statistics, as SyncBatchNorm does
            dist.all_reduce(second)
            second /= world_size()
        # Non-finite features make the loss non-finite too, which the training loop reports;
        # keep the eigendecomposition from failing first with a less helpful error.
        second = torch.nan_to_num(second, nan=0.0, posinf=0.0, neginf=0.0)
        if self._updates is None:
            self._updates = int(self.updates)   # once after construction or a load
        if self._updates == 0:
            self.correlation.copy_(second)
        else:
            self.correlation.mul_(self.rho).add_(second, alpha=1.0 - self.rho)
        self._updates += 1
        self.updates.fill_(self._updates)
        if self._updates % self.every == 0:
            # A new tensor, not an in-place copy: this step's backward still needs the W its
            # forward used (an in-place write would fail autograd's version check, and a
            # compiled graph saves the buffer itself, so a defensive copy would not help).
            self.weight = self.closed_form().to(self.weight.dtype)

    @torch.no_grad()
    def closed_form(self) -> Tensor:
        """W = U diag(p) U^T from the current correlation estimate."""
        eigenvalues, eigenvectors = torch.linalg.eigh(self.correlation.float())
        eigenvalues = eigenvalues.clamp(min=0.0)
        share = (eigenvalues / eigenvalues.max().clamp(min=torch.finfo(eigenvalues.dtype).tiny)).sqrt() + self.eps
        return (eigenvectors * share) @ eigenvectors.T

    def _load_from_state_dict(self, *args, **kwargs):
        super()._load_from_state_dict(*args, **kwargs)
        self._updates = None   # re-read the loaded counter on the next update

    def extra_repr(self) -> str:
        return f"dim={self.dim}, rho={self.rho:.3f}, eps={self.eps}, every={self.every}"


@contextlib.contextmanager
def frozen_statistics(module: nn.Module) -> Iterator[None]:
    """Within, every `DirectPredLinear` in `module` applies its W but updates neither its
    statistics nor W: the architecture steps of a search with DirectPred's predictor score the
    heads on held-out batches, which must not move the predictor the weight steps set."""
    layers = [m for m in module.modules() if isinstance(m, DirectPredLinear)]
    previous = [m.frozen for m in layers]
    for m in layers:
        m._freeze_weight()
        m.frozen = True
    try:
        yield
    finally:
        for m, frozen in zip(layers, previous):
            m.frozen = frozen
