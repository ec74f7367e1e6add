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


def weighted_sum(probs: Tensor, stacked: Tensor) -> Tensor:
    """`sum_i probs[i] * stacked[i]` as one operator (two when autocast is on), in the dtype
    a chain of `probs[i] * branch` products would give (the branches').

    One matrix-vector product forward and two backward (`dL/dp = stacked @ g`, and the outer
    product for the branches) replace n products forward and about 4n operators backward:
    on a GPU each is a launch the host waits for (benchmarks/dispatch_count.py). Under autocast
    a matmul would run in bf16/fp16 and round the probabilities, so there it multiplies and
    sums element-wise in their precision instead."""
    # a 0-dim probability times a floating branch has the branch's dtype (`torch.result_type`
    # would say so too, but returns no tensor: a graph break under torch.compile)
    n = stacked.shape[0]
    dtype = stacked.dtype if stacked.is_floating_point() else torch.promote_types(probs.dtype, stacked.dtype)
    if probs.dtype == stacked.dtype and not autocast_on(stacked):
        return (probs @ stacked.reshape(n, -1)).reshape(stacked.shape[1:])
    return (probs.reshape((n,) + (1,) * (stacked.dim() - 1)) * stacked).sum(0).to(dtype)


def mix(probs: Tensor, branch: Callable[[int], Tensor], hard: bool | int) -> Tensor:
    """`sum_i probs[i] * branch(i)`; in hard mode only the selected branch is computed.
    `hard`: False (mix all), the selected option's index, or True (take the argmax of
    `probs`: a read from the device). Soft mixing stacks the branches and takes one weighted
    sum (`weighted_sum`)."""
    if probs.numel() == 1:
        return branch(0)  # a single option has probability 1 and no gradient
    k = _selected(probs, hard)
    if k is not None:
        return probs[k] * branch(k)
    branches = [branch(i) for i in range(probs.numel())]
    if any(b.shape != branches[0].shape for b in branches[1:]):   # broadcasting branches: summed one by one
        out = probs[0] * branches[0]
        for p, b in zip(probs[1:], branches[1:]):
            out = torch.addcmul(out, p, b)
        return out
    return weighted_sum(probs, torch.stack(branches))


class _MixElementwise(torch.autograd.Function):
    """`sum_i p_i f_i(z)` for parameter-free element-wise branches `f_i`.

    Plain autograd runs a chain of small kernels per branch (scale, add; and in backward
    two scales, a reduction and an add). Here the forward stacks the branches' outputs and
    takes one weighted sum, keeping each branch's own graph; the backward takes every
    `dL/dp_i = <g, f_i(z)>` as one matrix-vector product, runs each `f_i'` once on `g`
    (one kernel per branch) and weights the results by `p` in one more product: about
    n + 3 operators backward where the per-branch loop took 4n + 2 (benchmarks/dispatch_count.py).
    The stack keeps the branches' outputs a second time, n copies of the layer's output.
    """

    @staticmethod
    def forward(ctx, z: Tensor, probs: Tensor, fns: Sequence[Callable[[Tensor], Tensor]]) -> Tensor:
        with torch.enable_grad():
            leaf = z.detach().requires_grad_(True)
            branches = [f(leaf) for f in fns]
        stacked = torch.stack([y.detach() for y in branches])
        ctx.leaf, ctx.branches = leaf, branches
        ctx.save_for_backward(probs, stacked)
        return weighted_sum(probs, stacked)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor):
        probs, stacked = ctx.saved_tensors
        n = stacked.shape[0]
        grad_p = None
        if ctx.needs_input_grad[1]:
            grad_p = (stacked.reshape(n, -1) @ grad.reshape(-1).to(stacked.dtype)).to(probs.dtype)
        grad_z = None
        if ctx.needs_input_grad[0]:
            # f_i'(z) g for every branch; the graphs are kept (retain_graph) so that a second
            # backward through the same graph works, and go when the outer graph does
            parts = [torch.autograd.grad(y, ctx.leaf, grad, retain_graph=True)[0] if y.grad_fn is not None
                     else grad for y in ctx.branches]
            grad_z = weighted_sum(probs, torch.stack(parts))
        return grad_z, grad_p, None


def mix_elementwise(probs: Tensor, fns: Sequence[Callable[[Tensor], Tensor]], z: Tensor, hard: bool | int) -> Tensor:
    """`mix` for parameter-free element-wise branches (activations), with a faster backward."""
    if probs.numel() == 1 or hard is not False or torch.compiler.is_compiling():
        # torch.compile fuses the plain weighted sum into one kernel: better than ours
        return mix(probs, lambda i: fns[i](z), hard)
    if not (torch.is_grad_enabled() and (z.requires_grad or probs.requires_grad)):
        return weighted_sum(probs, torch.stack([f(z) for f in fns]))
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
        share = mask32 / mask32.sum()   # each channel's weight in the statistics, once for both
        if torch.compiler.is_compiling() or not torch.is_grad_enabled() or weight.requires_grad or bias.requires_grad:
            # compiled: fused by the compiler. Trained weights (the weight step): autograd's
            # chain, which a second differentiation (create_graph, an exact DARTS hypergradient)
            # can go through; the closed form serves the architecture updates, weights frozen
            normed = _masked_normalize(z32, share, eps)[0]
        else:
            normed = _MaskedNormalize.apply(z32, share, eps)
    return torch.addcmul(bias, normed.to(z.dtype), weight)


def _masked_normalize(z: Tensor, share: Tensor, eps: float) -> tuple[Tensor, ...]:
    """`(z - mean) / sqrt(var + eps)` per row, the statistics weighted by `share` (summing to 1)."""
    mean = z @ share
    centered = z - mean[:, None]
    squares = centered.square()
    rstd = torch.rsqrt(squares @ share + eps)
    return centered * rstd[:, None], squares, rstd


class _MaskedNormalize(torch.autograd.Function):
    """`_masked_normalize` with its backward in closed form: 7 operators for the input and 7
    for the channel weights, where autograd's chain through the statistics takes about twice
    as many (each a launch on a GPU; benchmarks/dispatch_count.py).

    With `n = (z - mean) r`, `r = (var + eps)^-1/2`, `S1 = sum_j g_j` and `S2 = sum_j g_j n_j`
    per row: `dz = r (g - share (S1 + n S2))`, and
    `dshare_j = -sum_rows (r S1 z_j + r^2 S2 (z_j - mean)^2 / 2)` (both derived from
    `d mean / d z_j = share_j`, `d var / d z_j = 2 share_j (z_j - mean)`, `d mean / d share_j
    = z_j`, `d var / d share_j = (z_j - mean)^2`; tests/test_stacked_mixing.py checks them
    against autograd's)."""

    @staticmethod
    def forward(ctx, z: Tensor, share: Tensor, eps: float) -> Tensor:
        normed, squares, rstd = _masked_normalize(z, share, eps)
        ctx.save_for_backward(z, share, normed, squares, rstd)
        return normed

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor):
        z, share, normed, squares, rstd = ctx.saved_tensors
        grad = grad.to(z.dtype)
        s1, s2 = grad.sum(1), (grad * normed).sum(1)
        grad_z = grad_share = None
        if ctx.needs_input_grad[0]:
            grad_z = (grad - torch.addcmul(s1[:, None], normed, s2[:, None]) * share) * rstd[:, None]
        if ctx.needs_input_grad[1]:
            grad_share = torch.add((rstd * s1) @ z, (rstd.square() * s2) @ squares, alpha=0.5).neg_()
        return grad_z, grad_share, None


def autocast_on(tensor: Tensor) -> bool:
    device = tensor.device.type
    if torch.compiler.is_compiling():
        # dynamo cannot trace `is_autocast_available` (torch 2.11: a graph break at every call,
        # 9 graphs per head); compiled code runs on devices with autocast, or traces on "meta"
        return device != "meta" and torch.is_autocast_enabled(device)
    return torch.amp.is_autocast_available(device) and torch.is_autocast_enabled(device)


def _float32(tensor: Tensor) -> contextlib.AbstractContextManager:
    """Autocast off on `tensor`'s device, where it is on: for statistics that must stay in
    float32. (Only where it is on: `torch.autocast` refuses devices without autocast, "meta".)"""
    if autocast_on(tensor):
        return torch.autocast(tensor.device.type, enabled=False)
    return contextlib.nullcontext()


def pad_features(x: Tensor, width: int) -> Tensor:
    """Zero-pad the feature axis to `width` (a skipped layer passes its narrower input on)."""
    return x if x.shape[1] == width else F.pad(x, (0, width - x.shape[1]))
