"""The few collective operations the SSL losses need, correct with and without DDP.

SimCLR needs every rank's embeddings as negatives *with* their gradients (each rank's loss
depends on the others' embeddings); MoCo needs every rank's keys for its queue and its
labels, without gradients. With torch.distributed not initialised, both are identities.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor

from nasiam._distributed import is_distributed


class _GatherWithGrad(torch.autograd.Function):
    """all_gather whose backward hands each rank the summed gradient of its own part.

    Every rank's loss reads every rank's embeddings, so the gradient on rank r's part is the
    sum over ranks of d(loss_i)/d(part_r): an all_reduce of the full gradient, then r's slice.
    (torch.distributed.nn.functional.all_gather does the same through an all-to-all, but it
    is deprecated, and with gloo its leftover work made about one process in eight abort with
    SIGABRT at interpreter exit on torch 2.15: tests/test_distributed_losses.py, 2 of 15 runs.)
    """

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        ctx.rows = x.shape[0]
        return gather_no_grad(x.contiguous())

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        grad = grad.clone(memory_format=torch.contiguous_format)  # autograd owns the incoming buffer
        dist.all_reduce(grad)
        start = dist.get_rank() * ctx.rows
        return grad[start:start + ctx.rows]


def gather_with_grad(x: Tensor) -> Tensor:
    """Concatenate `x` from all ranks along dim 0; gradients flow back to each rank's part.

    Every rank must pass the same number of rows (DDP's samplers give equal batches).
    """
    if not is_distributed():
        return x
    return _GatherWithGrad.apply(x)


@torch.no_grad()
def gather_no_grad(x: Tensor) -> Tensor:
    """Concatenate `x` from all ranks along dim 0, detached."""
    if not is_distributed():
        return x.detach()
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts, dim=0)
