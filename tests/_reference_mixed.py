"""Today's (0.x, before #35) soft mixing, kept verbatim as the reference the stacked mixing of
`nasiam.space.mixed` is checked against (test helper; tests/test_stacked_mixing.py patches these
into the spaces to run a whole search step the old way)."""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from nasiam.space.mixed import _float32, _selected


def mix(probs: Tensor, branch: Callable[[int], Tensor], hard: bool | int) -> Tensor:
    """`sum_i probs[i] * branch(i)`; in hard mode only the selected branch is computed.
    `hard`: False (mix all), the selected option's index, or True (take the argmax of
    `probs`: a read from the device)."""
    if probs.numel() == 1:
        return branch(0)  # a single option has probability 1 and no gradient
    k = _selected(probs, hard)
    if k is not None:
        return probs[k] * branch(k)
    out = probs[0] * branch(0)
    for i in range(1, probs.numel()):
        out = torch.addcmul(out, probs[i], branch(i))
    return out


class _MixElementwise(torch.autograd.Function):
    """`sum_i p_i f_i(z)` for parameter-free element-wise branches `f_i`.

    Plain autograd runs a chain of small kernels per branch (scale, add; and in backward
    two scales, a reduction and an add). Here the forward accumulates the branches in place
    and keeps each branch's own graph; the backward takes `dL/dp_i = <g, f_i(z)>` as one dot
    product and chains `f_i'` once per branch, accumulating in place. About 1.6x faster than
    autograd for eight activations on CPU (benchmarks/head_cost.py).
    """

    @staticmethod
    def forward(ctx, z: Tensor, probs: Tensor, fns: Sequence[Callable[[Tensor], Tensor]]) -> Tensor:
        with torch.enable_grad():
            leaf = z.detach().requires_grad_(True)
            branches = [f(leaf) for f in fns]
        out = torch.zeros_like(z)
        for p, y in zip(probs, branches):
            out.addcmul_(y.detach(), p)
        ctx.leaf, ctx.branches = leaf, branches
        ctx.save_for_backward(probs)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor):
        (probs,) = ctx.saved_tensors
        grad = grad.contiguous()
        grad_z = torch.zeros_like(grad)
        grad_p = torch.empty_like(probs)
        for i, y in enumerate(ctx.branches):
            grad_p[i] = torch.vdot(y.detach().reshape(-1), grad.reshape(-1))
            # the branch graphs are kept (retain_graph) so that a second backward through the
            # same graph works; they go when the outer graph does
            g_i = torch.autograd.grad(y, ctx.leaf, grad, retain_graph=True)[0] if y.grad_fn is not None else grad
            grad_z.addcmul_(g_i, probs[i])
        return grad_z, grad_p, None


def mix_elementwise(probs: Tensor, fns: Sequence[Callable[[Tensor], Tensor]], z: Tensor, hard: bool | int) -> Tensor:
    """`mix` for parameter-free element-wise branches (activations), with a faster backward."""
    if probs.numel() == 1 or hard is not False or torch.compiler.is_compiling():
        # torch.compile fuses the plain weighted sum into one kernel: better than ours
        return mix(probs, lambda i: fns[i](z), hard)
    if not (torch.is_grad_enabled() and (z.requires_grad or probs.requires_grad)):
        out = torch.zeros_like(z)
        for p, f in zip(probs, fns):
            out.addcmul_(f(z), p)
        return out
    return _MixElementwise.apply(z, probs, tuple(fns))


def masked_layer_norm(z: Tensor, mask: Tensor, weight: Tensor, bias: Tensor, eps: float,
                      hard_width: int | None = None) -> Tensor:
    """LayerNorm whose statistics weight channel j by `mask[j]`, the probability it exists.

    A LayerNorm over the largest width would normalise with channels that a narrower
    exported head does not have, so supernet and export would disagree. Weighting the mean
    and variance by the width mask fixes that with one normalisation whatever the number of
    width options: for a one-hot width w the mask is the indicator of the first w channels
    and this is exactly `LayerNorm(w)` on them (the channels beyond are masked out later).
    The statistics are computed in at least float32 (float64 inputs keep float64), as
    `F.layer_norm` does under autocast.

    In hard mode (`hard_width` given) the mask is that prefix and the fused kernel runs on it.
    """
    if hard_width is not None:
        out = F.layer_norm(z[:, :hard_width], (hard_width,), weight[:hard_width], bias[:hard_width], eps)
        return F.pad(out, (0, z.shape[1] - hard_width))
    with _float32(z):  # autocast would run the two matmuls in bf16/fp16 (and overflow fp16)
        precision = torch.promote_types(z.dtype, torch.float32)   # never below the input's precision
        mask32, z32 = mask.to(precision), z.to(precision)
        total = mask32.sum()
        mean = (z32 @ mask32) / total
        centered = z32 - mean[:, None]
        var = (centered.square() @ mask32) / total
        normed = centered * torch.rsqrt(var + eps)[:, None]
    return torch.addcmul(bias, normed.to(z.dtype), weight)




def mlp_layer_forward(self, x: Tensor, weights, hard=False) -> Tensor:
    """`MLPSearchLayer.forward` before its one-width shortcut (#35 item 2): every width through
    the width mask and the masked LayerNorm, as here with this module's mixing."""
    from nasiam.space.mixed import choice_hard, hard_choices, pad_features, width_mask

    keep = weights.get("keep")
    chosen = hard_choices(weights, hard)
    if chosen is not None and chosen.get("keep") == 1:
        return keep[1] * pad_features(x, self.out_features)
    z = self.linear(x)
    mask = width_mask(weights["width"], self.inclusion)
    hard_width = self.widths[chosen["width"]] if chosen is not None else None

    def norm(index: int) -> Tensor:
        name = self.choices["norm"][index]
        module = self.norms[name]
        if name != "layernorm":
            return module(z)
        return masked_layer_norm(z, mask, module.weight, module.bias, module.eps, hard_width)

    z = mix(weights["norm"], norm, choice_hard(chosen, "norm"))
    a = mix_elementwise(weights["activation"], self.activations, z, choice_hard(chosen, "activation"))
    if keep is None:
        return a * mask
    if chosen is not None:
        return a * (keep[0] * mask)
    return mix(keep, lambda i: a * mask if i == 0 else pad_features(x, self.out_features), False)


def predictor_family_forward(self, x: Tensor, weights, hard=False) -> Tensor:
    """`PredictorFamilyLayer.forward` before the families' first products were taken as one
    (#35 item 2): each family's predictor run on its own."""
    from nasiam.space.mixed import choice_hard, hard_choices

    families = self.choices["family"]
    selected = choice_hard(hard_choices(weights, hard), "family")
    closed_form = self.closed_form()
    if selected is not False and closed_form is not None and families[selected] != "directpred":
        closed_form.track(x)
    return mix(weights["family"], lambda i: self.branches[families[i]](x), selected)


def negative_cosine(p: Tensor, z: Tensor) -> Tensor:
    """SimSiam's loss term before its closed-form gradient (#35 item 2): autograd's, through
    F.cosine_similarity."""
    return -F.cosine_similarity(p, z.detach(), dim=-1).mean()
