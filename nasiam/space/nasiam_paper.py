"""The `nasiam` space: the op set of the NASiam paper (Heuillet et al., arXiv 2302.00059), so
its published genotypes load, train and compare with ours.

Each searchable layer picks one op among `linear_<act>` (act in relu, silu, hardswish, elu),
`identity`, `avgpool_3x3`, `maxpool_3x3`. As in the paper's reference implementation, what
an op computes depends on whether the layer changes the width:

=============  ===============================  ================================  =======================
op             in == out                         in > out                          in < out
=============  ===============================  ================================  =======================
linear_<act>   Linear - BN - act                Linear - BN - act                 Linear (no act)
identity       (nothing)                        Linear - BN - ReLU                Linear
<pool>         pool - BN                        Linear - BN - ReLU, pool - BN     Linear, pool - BN
=============  ===============================  ================================  =======================

where `pool` is a 1-D window of 3 over the features (stride 1, padding 1). The paper's
supernet holds one Linear per candidate op; ours shares one Linear (and its BatchNorm)
between all ops of a layer, so a layer costs one Linear whatever the number of candidates.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from nasiam.space import registry
from nasiam.space.genotype import Genotype, GenotypeError, LayerSpec
from nasiam.space.mixed import Hard, choice_hard, hard_choices, mix
from nasiam.space.spaces import ExportedLayer, FixedLayer, SearchableLayer, SearchSpace, SlotSearch, register_space

PAPER_OPS = ("linear_relu", "linear_silu", "linear_hardswish", "linear_elu", "identity", "avgpool_3x3", "maxpool_3x3")
_POOL_OPS = ("avgpool_3x3", "maxpool_3x3")


def _linear_activation(op: str) -> str | None:
    return op[len("linear_"):] if op.startswith("linear_") else None


def check_op(op: Any) -> str:
    if not isinstance(op, str):
        raise GenotypeError(f"NASiam op must be a string, got {type(op).__name__}")
    act = _linear_activation(op)
    if op in ("identity",) + _POOL_OPS:
        return op
    if act is not None:
        try:
            registry.get_activation(act)
        except KeyError:
            raise GenotypeError(f"unknown NASiam op {op!r}: activation {act!r} is not registered") from None
        return op
    raise GenotypeError(f"unknown NASiam op {op!r}; known: {', '.join(PAPER_OPS)}")


def op_layers(op: str, in_features: int, out_features: int) -> list[LayerSpec]:
    """The fixed layers a NASiam op becomes between `in_features` and `out_features` (see the
    table in the module docstring)."""
    check_op(op)
    act = _linear_activation(op)
    pool = [LayerSpec(op=op, width=out_features, norm="batchnorm")] if op in _POOL_OPS else []
    if in_features < out_features:
        # the paper's widening ops are a bare Linear: the activation is dropped
        return [LayerSpec(width=out_features, bias=True)] + pool
    if in_features > out_features:
        return [LayerSpec(width=out_features, norm="batchnorm", activation=act or "relu")] + pool
    return [LayerSpec(width=out_features, norm="batchnorm", activation=act)] if act else pool


class NASiamSearchLayer(SearchableLayer):
    """One NASiam mixed op with a single shared Linear (and BN) behind all its candidates."""

    def __init__(self, in_features: int, out_features: int, ops: Sequence[str]):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.widens = in_features < out_features
        self.linear = nn.Linear(in_features, out_features, bias=self.widens)
        # widening ops have no BN after the Linear; the others share this one
        self.linear_norm = nn.Identity() if self.widens else nn.BatchNorm1d(out_features)
        self.pool_norms = nn.ModuleDict({op: nn.BatchNorm1d(out_features) for op in ops if op in _POOL_OPS})
        self.pools = nn.ModuleDict({op: (nn.AvgPool1d if op.startswith("avg") else nn.MaxPool1d)(3, 1, 1)
                                    for op in ops if op in _POOL_OPS})
        self.activations = nn.ModuleDict({op: registry.create_activation(_linear_activation(op))
                                          for op in ops if _linear_activation(op)})
        self._init_arch({"op": tuple(check_op(op) for op in ops)})

    def forward(self, x: Tensor, weights: Mapping[str, Tensor], hard: Hard = False) -> Tensor:
        ops = self.choices["op"]
        cache: dict[str, Tensor] = {}

        def shared() -> Tensor:  # Linear (+ BN), computed once and only if a branch needs it
            if "z" not in cache:
                cache["z"] = self.linear_norm(self.linear(x))
            return cache["z"]

        def base() -> Tensor:  # what identity and the pools start from
            if self.widens:
                return shared()
            if self.in_features > self.out_features:
                return F.relu(shared())
            return x

        def branch(i: int) -> Tensor:
            op = ops[i]
            if op in self.pools:
                return self.pool_norms[op](self.pools[op](base()))
            if op == "identity":
                return base()
            return shared() if self.widens else self.activations[op](shared())

        return mix(weights["op"], branch, choice_hard(hard_choices(weights, hard), "op"))

    def export(self, decision: Mapping[str, Any], in_width: int) -> tuple[list[ExportedLayer], int]:
        op = decision["op"]
        specs = op_layers(op, self.in_features, self.out_features)
        exported: list[ExportedLayer] = []
        for spec in specs:
            if spec.op == "linear":
                state = {"linear.weight": self.linear.weight.detach()[:, :in_width].clone()}
                if spec.bias:
                    state["linear.bias"] = self.linear.bias.detach().clone()
                state.update({f"norm.{k}": v.detach().clone() for k, v in self.linear_norm.state_dict().items()})
            else:
                state = {f"norm.{k}": v.detach().clone() for k, v in self.pool_norms[op].state_dict().items()}
            exported.append((spec, state))
        return exported, self.out_features if specs else in_width


@register_space
@dataclass(frozen=True)
class NASiamSpace(SearchSpace):
    """The NASiam paper's space: `num_layers` mixed ops `in -> hidden -> ... -> hidden|out`.

    Args:
        ops: candidate ops per layer (default: the paper's seven).
        hidden_dim: width inside the cell; default: the head's input width (the paper's
            projector), 512 for its SimSiam predictor.
    """

    ops: tuple[str, ...] = PAPER_OPS
    hidden_dim: int | None = None
    name = "nasiam"

    def __post_init__(self):
        object.__setattr__(self, "ops", tuple(check_op(op) for op in self.ops))
        if not self.ops:
            raise ValueError("the space needs at least one op")

    def cell_dims(self, in_dim: int, out_dim: int, num_layers: int, has_output: bool) -> list[tuple[int, int]]:
        hidden = self.hidden_dim or in_dim
        dims = []
        for i in range(num_layers):
            d_in = in_dim if i == 0 else hidden
            d_out = hidden if (has_output or i < num_layers - 1) else out_dim
            dims.append((d_in, d_out))
        return dims

    def build_layers(self, in_dim: int, out_dim: int, num_layers: int, output: LayerSpec | None) -> list[nn.Module]:
        layers: list[nn.Module] = [NASiamSearchLayer(a, b, self.ops)
                                   for a, b in self.cell_dims(in_dim, out_dim, num_layers, output is not None)]
        if output is not None:
            layers.append(FixedLayer(layers[-1].out_features if layers else in_dim, output))
        return layers

    def compile(self, ops: Sequence[str], in_dim: int, out_dim: int, output: LayerSpec | None = None,
                meta: Mapping | None = None) -> Genotype:
        """A genotype from a list of op names, e.g. one published by the paper."""
        dims = self.cell_dims(in_dim, out_dim, len(ops), output is not None)
        layers: list[LayerSpec] = []
        for op, (d_in, d_out) in zip(ops, dims):
            layers.extend(op_layers(op, d_in, d_out))
        if output is not None:
            layers.append(LayerSpec(**{**output.to_dict(), "fixed": True}))
        decisions = [{"op": [[op, 1.0]]} for op in ops]
        return Genotype(layers=tuple(layers), in_dim=in_dim, space=self.to_dict(), decisions=decisions,
                        meta=dict(meta or {}))

    @classmethod
    def slot_search(cls, slot: str, hidden_dim: int | None, options: Mapping[str, Any]) -> SlotSearch:
        if slot == "projector":
            # the paper's projector cell keeps the backbone width and ends in the fixed output layer
            return SlotSearch(cls(), num_layers=6)
        # its predictor cell maps to the output width itself
        return SlotSearch(cls(hidden_dim=options.get("nasiam_hidden_dim") or hidden_dim), num_layers=4,
                          output_layer=False)

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"name": self.name, "ops": list(self.ops)}
        if self.hidden_dim is not None:
            d["hidden_dim"] = self.hidden_dim
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> "NASiamSpace":
        hidden = d.get("hidden_dim")   # checked here: the constructor does not
        if hidden is not None and (isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1):
            raise GenotypeError("space.hidden_dim: expected a positive integer")
        return cls._from_fields(d, lists=("ops",), items="op names")

    def check_genotype(self, genotype: Genotype) -> None:
        for i, decision in enumerate(genotype.decisions or ()):
            for op, _ in decision.get("op", ()):
                if op not in self.ops:
                    raise GenotypeError(f"decisions[{i}].op: {op!r} is not in the space's ops {list(self.ops)}")


_PAPER_LIST = re.compile(r"(encoder|predictor)\s*=\s*(\[[\[\]\s,'\"a-z0-9_]*\])")


def parse_paper_genotype(text: str) -> dict[str, list[str]]:
    """Read the paper repository's genotype files, e.g.
    `Genotype(encoder=[['linear_relu'], ...], predictor=[['linear_hardswish'], ...])`,
    without evaluating them: the lists are matched by a strict pattern and parsed as JSON.
    Returns `{"encoder": [...], "predictor": [...]}` (the encoder list is the projector).
    """
    if len(text) > 10_000:
        raise GenotypeError("not a NASiam genotype: text too long")
    found = {}
    for slot, body in _PAPER_LIST.findall(text):
        try:
            nested = json.loads(body.replace("'", '"'))
        except json.JSONDecodeError as e:
            raise GenotypeError(f"NASiam genotype {slot}: cannot parse {body!r}: {e}") from None
        ops = []
        for entry in nested:
            if not (isinstance(entry, list) and len(entry) == 1 and isinstance(entry[0], str)):
                raise GenotypeError(f"NASiam genotype {slot}: expected [['op'], ...], got {entry!r}")
            ops.append(check_op(entry[0]))
        found[slot] = ops
    if set(found) != {"encoder", "predictor"}:
        raise GenotypeError("not a NASiam genotype: expected Genotype(encoder=[...], predictor=[...])")
    return found
