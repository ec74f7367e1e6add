"""The default space, `mlp`: a chain of `Linear(width) -> norm -> activation` layers whose
width, norm, activation and presence (depth) are searched, followed by the framework's fixed
output layer.

One `MLPSearchLayer` holds a single Linear at the largest width: widths are prefix masks
weighted by their probabilities, norms and activations are weighted sums of element-wise
branches, and skipping the layer is a weighted identity. Its cost is about one Linear
whatever the number of candidates (see benchmarks/head_cost.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch
import torch.nn as nn
from torch import Tensor

from nasiam._arguments import check_items
from nasiam.errors import shown
from nasiam.space import registry
from nasiam.space.genotype import MAX_WIDTH, Genotype, GenotypeError, LayerSpec
from nasiam.space.mixed import (
    Hard,
    choice_hard,
    hard_choices,
    masked_layer_norm,
    mix,
    mix_elementwise,
    pad_features,
    weighted_sum,
    width_inclusion,
    width_mask,
)
from nasiam.space.spaces import ExportedLayer, FixedLayer, SearchableLayer, SearchSpace, SlotSearch, register_space

DEFAULT_WIDTHS = (512, 1024, 2048, 4096)
DEFAULT_NORMS = ("batchnorm", "layernorm", "none")
DEFAULT_ACTIVATIONS = ("relu", "gelu", "silu", "hardswish", "elu", "mish", "leaky_relu", "identity")


class MLPSearchLayer(SearchableLayer):
    """`Linear(in, max(widths)) -> mixed norm -> mixed activation -> width mask`, optionally
    mixed with skipping the layer altogether.

    Choices: `width`, `norm`, `activation`, and `keep` (True/False) when skippable. Skipping
    needs the input to fit in the output (`in_features <= max(widths)`): it is zero-padded.
    """

    def __init__(self, in_features: int, widths: Sequence[int], norms: Sequence[str],
                 activations: Sequence[str], skippable: bool):
        super().__init__()
        self.in_features = in_features
        self.widths = tuple(sorted(widths))
        self.out_features = max_width = self.widths[-1]
        self.skippable = skippable and in_features <= max_width
        self.linear = nn.Linear(in_features, max_width)  # shared by every width option
        self.norms = nn.ModuleDict({n: registry.create_norm(n, max_width) for n in norms})
        self.activations = nn.ModuleList(registry.create_activation(a) for a in activations)
        self.register_buffer("inclusion", width_inclusion(self.widths, max_width), persistent=False)
        choices: dict[str, Sequence] = {"width": self.widths, "norm": tuple(norms), "activation": tuple(activations)}
        if self.skippable:
            choices = {"keep": (True, False), **choices}
        self._init_arch(choices)

    def _norm(self, index: int, z: Tensor, mask: Tensor | None, hard_width: int | None) -> Tensor:
        name = self.choices["norm"][index]
        module = self.norms[name]
        if registry.get_norm(name).per_channel or mask is None:
            return module(z)  # per-channel statistics (the same at every width), or every channel kept
        return masked_layer_norm(z, mask, module.weight, module.bias, module.eps, hard_width)

    def forward(self, x: Tensor, weights: Mapping[str, Tensor], hard: Hard = False) -> Tensor:
        keep = weights.get("keep")
        chosen = hard_choices(weights, hard)
        if chosen is not None and chosen.get("keep") == 1:
            return keep[1] * pad_features(x, self.out_features)  # skipped: no Linear at all
        z = self.linear(x)
        if chosen is None and len(self.widths) == 1:
            # One width (the siam space's projector): probability 1, the mask all ones, the
            # width's logit without gradient; so LayerNorm runs fused over every channel, a
            # fraction of the masked one's operators (benchmarks/dispatch_count.py). Equal up to
            # rounding: the mean is a row sum, not a product with weights 1/width.
            mask = None
            mask_dtype = torch.promote_types(weights["width"].dtype, self.inclusion.dtype)
        else:
            mask = width_mask(weights["width"], self.inclusion)
        hard_width = self.widths[chosen["width"]] if chosen is not None else None
        z = mix(weights["norm"], lambda i: self._norm(i, z, mask, hard_width), choice_hard(chosen, "norm"))
        a = mix_elementwise(weights["activation"], self.activations, z, choice_hard(chosen, "activation"))
        # `a * mask`, or without a mask the dtype that product had (a float32 mask promoted a
        # bf16 activation)
        masked = a * mask if mask is not None else a.to(torch.promote_types(a.dtype, mask_dtype))
        if keep is None:
            return masked
        if chosen is not None:
            return a * (keep[0] * mask)
        # kept and skipped outputs stacked and weighted in one product (`weighted_sum`): its
        # backward is two products, where indexing keep[0] and keep[1] took a dozen operators
        kept, skipped = masked, pad_features(x, self.out_features)
        dtype = torch.promote_types(kept.dtype, skipped.dtype)   # the dtype the sum of products had
        return weighted_sum(keep, torch.stack([kept.to(dtype), skipped.to(dtype)]))

    def export(self, decision: Mapping[str, Any], in_width: int) -> tuple[list[ExportedLayer], int]:
        if not decision.get("keep", True):
            return [], in_width
        width, norm_name = decision["width"], decision["norm"]
        spec = LayerSpec(width=width, norm=norm_name, activation=decision["activation"])
        weight, bias = self.linear.weight.detach(), self.linear.bias.detach()
        state = {"linear.weight": weight[:width, :in_width].clone()}
        if spec.bias:
            state["linear.bias"] = bias[:width].clone()
        norm_state = {k: v.detach() for k, v in self.norms[norm_name].state_dict().items()}
        for key, value in norm_state.items():
            state[f"norm.{key}"] = value.clone() if value.dim() == 0 else value[:width].clone()
        if not spec.bias and "norm.running_mean" in state:
            # The exported Linear drops the bias BatchNorm would cancel in training; fold it
            # into the running mean so eval-mode outputs stay identical: BN(z + b) with mean
            # m equals BN(z) with mean m - b.
            state["norm.running_mean"] -= bias[:width]
        return [(spec, state)], width


def _as_tuple(values, kind: str, item: type = str) -> tuple:
    """A space's list of `kind`s (each an `item`: a width an int, a name a str), as a tuple."""
    values = check_items(f"{kind}s", values, item, f"{kind}s ({'integers' if item is int else 'names'})")
    if not values:
        raise ValueError(f"the space needs at least one {kind}")
    if len(set(values)) != len(values):
        raise ValueError(f"duplicate {kind}s in {values}")
    return values


def _registered(lookup, name):
    """A norm's or activation's registry entry; an unknown name is a bad argument of the space
    (ValueError, as a bad width is), its message the registry's list of known names."""
    try:
        return lookup(name)
    except KeyError as e:
        raise ValueError(e.args[0]) from None


@register_space
@dataclass(frozen=True)
class MLPSpace(SearchSpace):
    """Per layer: width, norm, activation, and whether the layer is kept (depth).

    Args:
        widths: candidate output widths of each searchable layer.
        norms: candidate norms (names in the norm registry).
        activations: candidate activations (names in the activation registry).
        allow_skip: search the depth too: each searchable layer may be skipped.
    """

    widths: tuple[int, ...] = DEFAULT_WIDTHS
    norms: tuple[str, ...] = DEFAULT_NORMS
    activations: tuple[str, ...] = DEFAULT_ACTIVATIONS
    allow_skip: bool = True
    name = "mlp"

    def __post_init__(self):
        object.__setattr__(self, "widths", _as_tuple(self.widths, "width", int))
        object.__setattr__(self, "norms", _as_tuple(self.norms, "norm"))
        object.__setattr__(self, "activations", _as_tuple(self.activations, "activation"))
        for w in self.widths:   # integers, not bools (`_as_tuple`)
            if not 1 <= w <= MAX_WIDTH:
                raise ValueError(f"width {shown(w)} must be an integer in [1, {MAX_WIDTH}]")
        if not isinstance(self.allow_skip, bool):   # "false" or "no" is a true value: layers would be skipped
            raise ValueError(f"allow_skip must be True or False, got {shown(self.allow_skip)}")
        for n in self.norms:
            entry = _registered(registry.get_norm, n)
            if not entry.per_channel and n != "layernorm":
                raise ValueError(f"norm {n!r} normalises across features and cannot be searched over "
                                 "masked widths; use it in fixed heads only")
        for a in self.activations:
            _registered(registry.get_activation, a)

    def build_layers(self, in_dim: int, out_dim: int, num_layers: int, output: LayerSpec | None) -> list[nn.Module]:
        if output is None:
            raise ValueError("the mlp space ends in the framework's fixed output layer; pass output_layer=True")
        layers: list[nn.Module] = []
        features = in_dim
        for _ in range(num_layers):
            layer = MLPSearchLayer(features, self.widths, self.norms, self.activations, self.allow_skip)
            layers.append(layer)
            features = layer.out_features
        layers.append(FixedLayer(features, output))
        return layers

    @classmethod
    def slot_search(cls, slot: str, hidden_dim: int | None, options: Mapping[str, Any]) -> SlotSearch:
        widths = {"widths": tuple(options["widths"])} if options.get("widths") else {}   # else the one default
        return SlotSearch(cls(**widths, norms=tuple(options.get("norms", DEFAULT_NORMS)),
                              activations=tuple(options.get("activations", DEFAULT_ACTIVATIONS)),
                              allow_skip=options.get("allow_skip", True)))

    def to_dict(self) -> dict:
        return {"name": self.name, "widths": list(self.widths), "norms": list(self.norms),
                "activations": list(self.activations), "allow_skip": self.allow_skip}

    @classmethod
    def from_dict(cls, d: Mapping) -> "MLPSpace":
        return cls._from_fields(d, lists=("widths", "norms", "activations"))

    def check_genotype(self, genotype: Genotype) -> None:
        for i, layer in enumerate(genotype.layers):
            if layer.fixed:
                continue
            where = f"layers[{i}]"
            if layer.op != "linear":
                raise GenotypeError(f"{where}.op: the mlp space has only linear layers, not {layer.op!r}")
            if layer.width not in self.widths:
                raise GenotypeError(f"{where}.width: {layer.width} is not in the space's widths {list(self.widths)}")
            if layer.norm not in self.norms:
                raise GenotypeError(f"{where}.norm: {layer.norm!r} is not in the space's norms {list(self.norms)}")
            if layer.activation not in self.activations:
                raise GenotypeError(f"{where}.activation: {layer.activation!r} is not in the space's "
                                    f"activations {list(self.activations)}")
