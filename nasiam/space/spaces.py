"""The `SearchSpace` interface, the layer classes every space builds on, and the functions of
the registry (`nasiam.space.registry.SPACES`) that maps a space's name in genotype JSON back to
its class."""
from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Sequence

import torch
import torch.nn as nn
from torch import Tensor

from nasiam.space import registry
from nasiam.space.directpred import DirectPredLinear
from nasiam.space.genotype import Genotype, GenotypeError, LayerSpec

__all__ = ["SearchSpace", "SlotSearch", "SearchableLayer", "FixedLayer", "ExportedLayer", "register_space",
           "create_space", "list_spaces", "build_layer", "build_chain"]

# What a layer hands to the exporter: the fixed layer it becomes and that layer's weights,
# keyed as in `build_layer(spec)`'s state_dict.
ExportedLayer = tuple[LayerSpec, dict[str, Tensor]]

_POOLS = {
    "avgpool_3x3": lambda: nn.AvgPool1d(3, stride=1, padding=1),
    "maxpool_3x3": lambda: nn.MaxPool1d(3, stride=1, padding=1),
}


def build_layer(spec: LayerSpec, in_width: int) -> nn.Sequential:
    """The standard-module form of one layer: children `linear`, `pool` or `directpred`, `norm`, `act`,
    each present only when it does something. Shared by `NASHead` and the exporters so that
    state-dict keys always agree."""
    children: "OrderedDict[str, nn.Module]" = OrderedDict()
    if spec.op == "linear":
        children["linear"] = nn.Linear(in_width, spec.width, bias=spec.bias)
    elif spec.op == "directpred":
        children["directpred"] = DirectPredLinear(spec.width)
    else:
        # A 2-D (batch, features) tensor is read by Pool1d as unbatched (channels, length):
        # the window slides over the features, as in the NASiam paper's ops.
        children["pool"] = _POOLS[spec.op]()
    if spec.norm != "none":
        children["norm"] = registry.create_norm(spec.norm, spec.width)
    if spec.activation != "identity":
        children["act"] = registry.create_activation(spec.activation)
    return nn.Sequential(children)


def build_chain(specs: Sequence[LayerSpec], in_width: int) -> list[nn.Sequential]:
    """`build_layer` for each layer of a chain, each on the width of the one before."""
    widths = [in_width, *(spec.width for spec in specs)]
    return [build_layer(spec, width) for spec, width in zip(specs, widths)]


class SearchableLayer(nn.Module, ABC):
    """A supernet layer: some architecture choices, each a vector of logits in `self.arch`.

    `choices[name]` lists the options of choice `name`; `self.arch[name]` holds one logit per
    option. The head turns logits into weights (softmax, Gumbel, argmax) and calls
    `forward(x, weights, hard)`: `hard` is False for soft mixing, and for one-hot weights the
    selected option of each choice as host integers, `{choice: index}` (or True: read them
    from the weights, `nasiam.space.mixed.hard_choices`).
    """

    choices: dict[str, tuple]
    out_features: int

    def _init_arch(self, choices: Mapping[str, Sequence]) -> None:
        self.choices = {name: tuple(options) for name, options in choices.items()}
        # Zero logits: every option starts equally likely (DARTS' initialisation up to noise,
        # which the search strategy may add).
        self.arch = nn.ParameterDict({name: nn.Parameter(torch.zeros(len(options)))
                                      for name, options in self.choices.items()})

    @abstractmethod
    def forward(self, x: Tensor, weights: Mapping[str, Tensor], hard: bool | Mapping[str, int] = False) -> Tensor: ...

    @abstractmethod
    def export(self, decision: Mapping[str, Any], in_width: int) -> tuple[list[ExportedLayer], int]:
        """The fixed layers this layer becomes under `decision` (one option per choice), with
        the supernet's weights sliced to fit an input of `in_width` features; and the width
        of the output."""


class FixedLayer(nn.Module):
    """A layer the framework fixes (e.g. the projector's output Linear + BN): no choices.

    Its input width varies with the choices before it, so it is built at the largest input
    width and sliced on export.
    """

    def __init__(self, in_features: int, spec: LayerSpec):
        super().__init__()
        if spec.op != "linear":
            raise ValueError("a fixed layer must be linear")
        self.spec = spec if spec.fixed else LayerSpec(**{**spec.to_dict(), "fixed": True})
        self.block = build_layer(self.spec, in_features)
        self.out_features = spec.width

    def forward(self, x: Tensor) -> Tensor:
        return self.block(x)

    def export(self, in_width: int) -> tuple[list[ExportedLayer], int]:
        state = {k: v.detach().clone() for k, v in self.block.state_dict().items()}
        state["linear.weight"] = state["linear.weight"][:, :in_width].clone()
        return [(self.spec, state)], self.spec.width


class SearchSpace(ABC):
    """A family of heads: how to build its supernet and which genotypes belong to it."""

    name: ClassVar[str]

    @abstractmethod
    def build_layers(self, in_dim: int, out_dim: int, num_layers: int,
                     output: LayerSpec | None) -> list[nn.Module]:
        """The supernet's layers (`SearchableLayer`s, then `FixedLayer`s)."""

    @abstractmethod
    def to_dict(self) -> dict: ...

    @classmethod
    @abstractmethod
    def from_dict(cls, d: Mapping) -> "SearchSpace": ...

    @classmethod
    def _from_fields(cls, d: Mapping, lists: Sequence[str], items: str = "options") -> "SearchSpace":
        """A dataclass space from its `to_dict()` record: an unknown field, a `lists` field that is
        no list of at most 64 `items`, or a value the constructor refuses is a `GenotypeError`."""
        fields = [f.name for f in dataclasses.fields(cls)]
        unknown = set(d) - {"name", *fields}
        if unknown:
            raise GenotypeError(f"space: unknown field(s) {sorted(unknown)} for the {cls.name} space")
        kwargs = {k: d[k] for k in fields if k in d}
        for k in lists:
            if k in kwargs and (not isinstance(kwargs[k], list) or len(kwargs[k]) > 64):
                raise GenotypeError(f"space.{k}: expected a list of at most 64 {items}")
        try:
            return cls(**kwargs)
        except GenotypeError:   # names the field already
            raise
        except (KeyError, ValueError, TypeError) as e:
            raise GenotypeError(f"space: {e.args[0] if e.args else e}") from None

    @abstractmethod
    def check_genotype(self, genotype: Genotype) -> None:
        """Raise `GenotypeError` naming the field if `genotype` could not come from this space."""

    def for_slot(self, slot: str, hidden_dim: int | None) -> "SearchSpace":
        """This space as it searches the head in a framework's `slot` ("projector", "predictor"),
        whose standard head has hidden width `hidden_dim`. Most spaces search every slot alike."""
        return self

    @classmethod
    def slot_search(cls, slot: str, hidden_dim: int | None, options: Mapping[str, Any]) -> "SlotSearch":
        """What `nasiam search` searches in `slot` with this space, from the command line's space
        options (`widths`, `norms`, `activations`, `allow_skip`, `nasiam_hidden_dim`: each space
        reads its own)."""
        return SlotSearch(cls().for_slot(slot, hidden_dim))


@dataclass(frozen=True)
class SlotSearch:
    """One slot's search: the space, its searchable layers when the command line does not say
    (None: the framework slot's own default), and whether the head ends in the slot's fixed
    output layer."""

    space: SearchSpace
    num_layers: int | None = None
    output_layer: bool = True


def register_space(cls: type[SearchSpace] | None = None, *, overwrite: bool = False):
    """Register a `SearchSpace` subclass under its `name` (a class decorator, also as
    `@register_space(overwrite=True)`)."""

    def _register(space: type[SearchSpace]) -> type[SearchSpace]:
        return registry.SPACES.register(space.name, space, overwrite=overwrite)

    return _register if cls is None else _register(cls)


def list_spaces() -> list[str]:
    return list(registry.SPACES)


def create_space(name: str, **kwargs) -> SearchSpace:
    """The registered space `name` built with `kwargs`; an unknown name is a bad argument
    (ValueError naming the known spaces, as an unknown norm or activation is), not a KeyError."""
    try:
        space = registry.SPACES[name]
    except KeyError as e:
        raise ValueError(e.args[0]) from None
    return space(**kwargs)
