"""The arithmetic of a supernet layer: mixing branches by their architecture weights.

Everything here is element-wise or a prefix mask, so a searchable layer costs about one
`nn.Linear` however many candidates it holds (FBNetV2-style channel masking, DARTS-style
weighted sums of cheap branches).

`weights` are probability vectors over a choice's options. In *hard* mode (Gumbel
straight-through samples, or a fixed argmax) a vector is one-hot in value, and only the
selected branch is evaluated: its weight still carries the gradient to the logits.

Which branch that is must be known on the host. The head that drew the sample passes it as
plain integers (`hard={choice: index}`), so a forward reads nothing back from the device; on
a GPU each read would wait for every queued kernel. `hard=True` (one-hot weights without
their indices) still works, at the price of reading the indices back.
"""
from __future__ import annotations

import contextlib
from typing import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


def width_inclusion(widths: Sequence[int], max_width: int, device=None) -> Tensor:
    """`incl[i, j] = 1` if channel j is kept by width option i (a prefix of length widths[i])."""
    channels = torch.arange(max_width, device=device)
    return (channels[None, :] < torch.tensor(widths, device=device)[:, None]).float()


def width_mask(probs: Tensor, inclusion: Tensor) -> Tensor:
    """Soft channel mask: `mask[j] = sum_i p_i [j < w_i]`, the probability that channel j exists.

    Multiplying a layer's output by it is FBNetV2's differentiable width: the gradient of
    the loss with respect to `p_i` sees exactly the channels that option i adds or removes.
    """
    with _float32(inclusion):  # probabilities, not activations: autocast's bf16 would round them by 0.4 %
        mask = probs.float() @ inclusion.float()
    return mask.to(torch.promote_types(probs.dtype, inclusion.dtype))  # a head cast to bf16 stays bf16


# How a layer is told to mix: False (softly, every option), True (one-hot weights, the
# selected options read from them), or {choice: index} (one-hot, the indices known on the host).
Hard = bool | Mapping[str, int]


def hard_choices(weights: Mapping[str, Tensor], hard: Hard) -> dict[str, int] | None:
    """The option each choice selects, as host integers, or None when mixing softly.
    `hard=True` reads them from the one-hot weights, every choice in one transfer."""
    if hard is False or hard is None:
        return None
    if hard is True:
        names = list(weights)
        return dict(zip(names, torch.stack([weights[n].detach().argmax() for n in names]).tolist()))
    return {name: int(index) for name, index in hard.items()}


def choice_hard(chosen: Mapping[str, int] | None, name: str) -> bool | int:
    """What `mix` takes for choice `name` of a layer's `hard_choices`: its index, or False
    (mix softly)."""
    return False if chosen is None else chosen[name]


def _selected(probs: Tensor, hard: bool | int) -> int | None:
    if hard is False or hard is None:
        return None
    if isinstance(hard, Mapping):
        raise TypeError("mix() takes one choice's selected option, not the layer's {choice: index} mapping: "
                        "pass hard[choice] (see hard_choices), or True to read it from the weights")
    return int(probs.argmax()) if hard is True else int(hard)


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


def _float32(tensor: Tensor) -> contextlib.AbstractContextManager:
    """Autocast off on `tensor`'s device, where it is on: for statistics that must stay in
    float32. (Only where it is on: `torch.autocast` refuses devices without autocast, "meta".)"""
    device = tensor.device.type
    if torch.compiler.is_compiling():
        # dynamo cannot trace `is_autocast_available` (torch 2.11: a graph break at every call,
        # 9 graphs per head); compiled code runs on devices with autocast, or traces on "meta"
        enabled = device != "meta" and torch.is_autocast_enabled(device)
    else:
        enabled = torch.amp.is_autocast_available(device) and torch.is_autocast_enabled(device)
    return torch.autocast(device, enabled=False) if enabled else contextlib.nullcontext()


def pad_features(x: Tensor, width: int) -> Tensor:
    """Zero-pad the feature axis to `width` (a skipped layer passes its narrower input on)."""
    return x if x.shape[1] == width else F.pad(x, (0, width - x.shape[1]))
