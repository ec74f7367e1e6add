"""The SSL objectives, as plain functions of embeddings (pure PyTorch, DDP-aware)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from nasiam._distributed import rank
from nasiam.frameworks.distributed import gather_no_grad, gather_with_grad
from nasiam.space.mixed import autocast_on


def negative_cosine(p: Tensor, z: Tensor) -> Tensor:
    """SimSiam's D(p, z) = -cos(p, stopgrad(z)), averaged over the batch: the value of
    `-F.cosine_similarity(p, z.detach(), dim=-1).mean()` bit for bit, its gradient in closed
    form (`_NegativeCosine`)."""
    z = z.detach()
    if p.shape != z.shape or (autocast_on(p) and p.device.type != "cuda"):
        # broadcasting shapes, and autocast where cosine_similarity keeps the input's precision
        # (the CPU's): torch's own, as before
        return -F.cosine_similarity(p, z, dim=-1).mean()
    if autocast_on(p):   # CUDA autocast runs cosine_similarity in float32: so does this
        with torch.autocast(p.device.type, enabled=False):
            return _NegativeCosine.apply(p.float(), z.float(), _COSINE_EPS)
    return _NegativeCosine.apply(p, z, _COSINE_EPS)


_COSINE_EPS = 1e-8   # F.cosine_similarity's


class _NegativeCosine(torch.autograd.Function):
    """`-mean(cos(p, z))` over the rows of `p` against a constant `z`, computed as
    `F.cosine_similarity` computes it (each row divided by its norm, clamped at eps, then the
    products summed), with the gradient in closed form:

        d/dp = -(z_unit - cos * p_unit) / (|p| * rows)

    four operators where autograd's chain through the norm takes fifteen (each a kernel launch
    on a GPU, in every SimSiam step: benchmarks/dispatch_count.py). Equal to autograd's gradient
    up to rounding (about 1e-7 relative in float32; tests/test_losses.py), except for rows of
    norm below eps (1e-8), where this is the gradient with the norm held at eps and autograd's
    treats the clamp as absent; a zero row gets `-z_unit / (eps * rows)` from both. A second
    differentiation (`create_graph=True`) goes through torch's own arithmetic instead."""

    @staticmethod
    def forward(ctx, p: Tensor, z: Tensor, eps: float) -> Tensor:
        p_norm = torch.linalg.vector_norm(p, dim=-1, keepdim=True).clamp_min_(eps)
        z_norm = torch.linalg.vector_norm(z, dim=-1, keepdim=True).clamp_min_(eps)
        p_unit, z_unit = p / p_norm, z / z_norm
        cos = (p_unit * z_unit).sum(-1)
        ctx.save_for_backward(p, z, p_unit, z_unit, p_norm, cos)
        return cos.mean().neg()

    @staticmethod
    def backward(ctx, grad: Tensor):
        p, z, p_unit, z_unit, p_norm, cos = ctx.saved_tensors
        if torch.is_grad_enabled():   # create_graph: a gradient that can itself be differentiated
            loss = -F.cosine_similarity(p, z, dim=-1).mean()
            return torch.autograd.grad(loss, p, grad, create_graph=True)[0], None, None
        scale = grad * (-1.0 / cos.numel()) / p_norm
        return torch.addcmul(z_unit, p_unit, cos.unsqueeze(-1), value=-1) * scale, None, None


def simsiam_loss(p1: Tensor, p2: Tensor, z1: Tensor, z2: Tensor) -> Tensor:
    """Symmetrised SimSiam loss: D(p1, z2) / 2 + D(p2, z1) / 2, in [-1, 1]."""
    return 0.5 * negative_cosine(p1, z2) + 0.5 * negative_cosine(p2, z1)


def nt_xent(z1: Tensor, z2: Tensor, temperature: float) -> Tensor:
    """SimCLR's NT-Xent over the global batch.

    Each of the 2N embeddings has its other view as positive and the remaining 2N - 2 as
    negatives, N being the batch over all ranks: embeddings are gathered with their
    gradients, and each rank scores its own anchors.
    """
    z1, z2 = F.normalize(z1, dim=-1), F.normalize(z2, dim=-1)
    all1, all2 = gather_with_grad(z1), gather_with_grad(z2)
    n = z1.shape[0]
    labels = torch.arange(n, device=z1.device) + rank() * n
    self_mask = F.one_hot(labels, all1.shape[0]).bool()

    def side(anchor: Tensor, other: Tensor, same: Tensor) -> Tensor:
        positives_and_negatives = anchor @ other.T / temperature   # column `label` is the positive
        same_view = (anchor @ same.T / temperature).masked_fill(self_mask, float("-inf"))
        return F.cross_entropy(torch.cat([positives_and_negatives, same_view], dim=1), labels)

    return 0.5 * (side(z1, all2, all1) + side(z2, all1, all2))


def info_nce_queue(q: Tensor, k: Tensor, queue: Tensor, temperature: float) -> Tensor:
    """MoCo v2's InfoNCE: the key of the same image is the positive, the queue holds the
    negatives. `q`, `k` are (N, d); `queue` is (K, d), all L2-normalised."""
    positive = (q * k.detach()).sum(dim=-1, keepdim=True)
    negatives = q @ queue.detach().clone().T  # a copy: the queue is updated before backward
    logits = torch.cat([positive, negatives], dim=1) / temperature
    return F.cross_entropy(logits, torch.zeros(q.shape[0], dtype=torch.long, device=q.device))


def info_nce_batch(q: Tensor, k: Tensor, temperature: float) -> Tensor:
    """MoCo v3's contrastive loss: the keys of the global batch are the candidates, the one
    of the same image the positive; scaled by 2T as in the paper."""
    q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
    keys = gather_no_grad(k)
    labels = torch.arange(q.shape[0], device=q.device) + rank() * q.shape[0]
    return F.cross_entropy(q @ keys.T / temperature, labels) * (2 * temperature)
