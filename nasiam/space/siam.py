"""The `siam` space: the `mlp` space's projector without its width choice, and the predictor as
one decision between whole predictors, DirectPred's closed form among them.

Why this shape (the 19-seed confirmatory archive, docs/search-space.md has the numbers): the
`mlp` space's searches agreed on three decisions only (keep the projector's hidden layer, no
norm there, a predictor without activation, i.e. linear); the widths rose above their noise
floor on few seeds and, when they did, not on the same option. DirectPred's closed-form
predictor beat the default predictor by more than any searched head did, and a trained linear
map by 1.12 points, but could not be chosen. So here:

* projector: the `mlp` space's layers (norm, activation, keep) at one width, the standard
  head's hidden width: no architecture steps spent on widths;
* predictor: one choice, `family`, among `directpred` (DirectPred's `DirectPredLinear`, W set
  from the running correlation of the predictor's input), `linear` (a trained `Linear(d, d)`
  without bias, the `linear_predictor` preset) and `mlp` (the method's own bottleneck predictor,
  `Linear - BN - ReLU - Linear`, its standard preset). The `mlp` candidate's hidden layer is
  the standard one, not searched: the archive's predictor width and norm were noise, and its
  searched activation always went to identity, the linear map this family offers directly.

`PredictorFamilyLayer` mixes the three whole predictors by their probabilities (one-hot under
argmax or Gumbel samples). Each branch is the fixed layers it exports to (`build_layer`), so
exporting is copying the chosen branch's state: a search that chose `directpred` exports a
DirectPred predictor with its statistics, which keep updating in pretraining.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from nasiam._arguments import as_integer
from nasiam.space.directpred import DirectPredLinear
from nasiam.space.genotype import MAX_WIDTH, Genotype, GenotypeError, LayerSpec
from nasiam.space.mixed import Hard, choice_hard, hard_choices, mix, weighted_sum
from nasiam.space.mlp import DEFAULT_ACTIVATIONS, DEFAULT_NORMS, MLPSpace, _as_tuple
from nasiam.space.spaces import ExportedLayer, SearchableLayer, SearchSpace, SlotSearch, build_chain, register_space

__all__ = ["PREDICTOR_FAMILIES", "PredictorFamilyLayer", "SiamSpace", "predictor_layers"]

PREDICTOR_FAMILIES = ("directpred", "linear", "mlp")
SLOTS = ("projector", "predictor")


def predictor_layers(family: str, dim: int, hidden_dim: int, output: LayerSpec) -> list[LayerSpec]:
    """The fixed layers of predictor `family` on `dim` features; `output` is the slot's output
    layer (its bias follows the method: SimSiam's has one, MoCo v3's not), which ends `mlp`."""
    if family == "directpred":
        return [LayerSpec(op="directpred", width=dim)]
    if family == "linear":
        return [LayerSpec(width=dim, bias=False)]   # DirectPred's trained linear baseline
    if family == "mlp":
        return [LayerSpec(width=hidden_dim, norm="batchnorm", activation="relu"), output]
    raise ValueError(f"unknown predictor family {family!r}; known: {', '.join(PREDICTOR_FAMILIES)}")


class PredictorFamilyLayer(SearchableLayer):
    """A whole predictor, chosen among `families`: the weighted sum of their outputs.

    The closed form's statistics follow the predictor's input whichever candidate a sampled
    step runs (`DirectPredLinear.track`). It has no parameters, so no learning rate applies to
    it; the trained candidates take the predictor's learning-rate rule. Gradients reach the
    projector through every candidate.
    """

    def __init__(self, dim: int, hidden_dim: int, families: Sequence[str], output: LayerSpec):
        super().__init__()
        self.in_features = self.out_features = dim
        self.specs = {family: predictor_layers(family, dim, hidden_dim, output) for family in families}
        self.branches = nn.ModuleDict({family: nn.Sequential(*build_chain(specs, dim))
                                       for family, specs in self.specs.items()})
        self._init_arch({"family": tuple(families)})

    def closed_form(self) -> DirectPredLinear | None:
        return self.branches["directpred"][0].directpred if "directpred" in self.branches else None

    def forward(self, x: Tensor, weights: Mapping[str, Tensor], hard: Hard = False) -> Tensor:
        families = self.choices["family"]
        selected = choice_hard(hard_choices(weights, hard), "family")
        closed_form = self.closed_form()
        if selected is not False and closed_form is not None and families[selected] != "directpred":
            closed_form.track(x)
        if selected is not False or len(families) == 1:
            return mix(weights["family"], lambda i: self.branches[families[i]](x), selected)
        return weighted_sum(weights["family"], torch.stack(self._all_branches(x)))

    def _all_branches(self, x: Tensor) -> list[Tensor]:
        """Every family's output. Each family's first layer is a linear map of `x` (DirectPred's
        W, a Linear), so their products are taken as one, with the weights stacked by rows:
        one matrix product forward and two backward (input and weights) where one per family took
        three and six, with the sums of the input's gradient (benchmarks/dispatch_count.py). Each
        output column is the same dot product; the input's gradient sums the families' terms in
        one product instead of three, equal up to rounding."""
        firsts = [dict(self.branches[family][0].named_children()) for family in self.choices["family"]]
        # rows of F.linear's weight: DirectPred applies x W, i.e. the rows of W^T (W is
        # symmetric only up to rounding)
        rows = [b["directpred"].applied_weight.T.to(x.dtype) if "directpred" in b else b["linear"].weight
                for b in firsts]
        products = F.linear(x, torch.cat(rows)).split([r.shape[0] for r in rows], dim=1)
        outputs = []
        for family, first, y in zip(self.choices["family"], firsts, products):
            if "directpred" in first:
                first["directpred"].track(x)   # the statistics its own forward takes in
            elif first["linear"].bias is not None:
                y = y + first["linear"].bias
            for name, child in first.items():
                if name not in ("directpred", "linear"):
                    y = child(y)   # the first layer's norm and activation
            outputs.append(self.branches[family][1:](y))
        return outputs

    def export(self, decision: Mapping[str, Any], in_width: int) -> tuple[list[ExportedLayer], int]:
        if in_width != self.in_features:
            raise ValueError(f"the predictor takes {self.in_features} features, not {in_width}")
        family = decision["family"]
        return [(spec, {k: v.detach().clone() for k, v in block.state_dict().items()})
                for spec, block in zip(self.specs[family], self.branches[family])], self.out_features


@register_space
@dataclass(frozen=True)
class SiamSpace(SearchSpace):
    """A siamese method's pair of heads; `slot` says which one this instance searches.

    Args:
        slot: "projector" (the `mlp` space's layers at width `hidden_dim`) or "predictor" (one
            choice among `predictors`).
        hidden_dim: the hidden layers' width, not searched (the projector's; the `mlp`
            predictor's bottleneck); None: the head's output width. Frameworks set it to their
            standard head's (`for_slot`).
        norms, activations, allow_skip: the projector's choices, as in `MLPSpace`.
        predictors: the predictor candidates, a subset of PREDICTOR_FAMILIES.
    """

    slot: str = "projector"
    hidden_dim: int | None = None
    norms: tuple[str, ...] = DEFAULT_NORMS
    activations: tuple[str, ...] = DEFAULT_ACTIVATIONS
    allow_skip: bool = True
    predictors: tuple[str, ...] = PREDICTOR_FAMILIES
    name = "siam"

    def __post_init__(self):
        if self.slot not in SLOTS:
            raise ValueError(f"the siam space searches a projector or a predictor, not {self.slot!r}")
        hidden = self.hidden_dim if as_integer(self.hidden_dim) is None else as_integer(self.hidden_dim)
        object.__setattr__(self, "hidden_dim", hidden)   # a numpy integer, as an int
        if hidden is not None and (isinstance(hidden, bool) or not isinstance(hidden, int)
                                   or not 1 <= hidden <= MAX_WIDTH):
            raise ValueError(f"hidden_dim {hidden!r} must be an integer in [1, {MAX_WIDTH}]")
        object.__setattr__(self, "predictors", _as_tuple(self.predictors, "predictor"))
        for family in self.predictors:
            if family not in PREDICTOR_FAMILIES:
                raise ValueError(f"unknown predictor family {family!r}; known: {', '.join(PREDICTOR_FAMILIES)}")
        projector = self.projector_space(hidden or 1)   # checks the projector's choices
        object.__setattr__(self, "norms", projector.norms)
        object.__setattr__(self, "activations", projector.activations)

    def projector_space(self, width: int) -> MLPSpace:
        """The projector's choices: the `mlp` space's at the one width."""
        return MLPSpace(widths=(width,), norms=self.norms, activations=self.activations, allow_skip=self.allow_skip)

    def for_slot(self, slot: str, hidden_dim: int | None) -> "SiamSpace":
        return replace(self, slot=slot, hidden_dim=hidden_dim)

    @classmethod
    def slot_search(cls, slot: str, hidden_dim: int | None, options: Mapping[str, Any]) -> SlotSearch:
        return SlotSearch(cls(slot=slot, hidden_dim=hidden_dim, norms=tuple(options.get("norms", DEFAULT_NORMS)),
                              activations=tuple(options.get("activations", DEFAULT_ACTIVATIONS)),
                              allow_skip=options.get("allow_skip", True)))

    def build_layers(self, in_dim: int, out_dim: int, num_layers: int, output: LayerSpec | None) -> list[nn.Module]:
        if output is None:
            raise ValueError("the siam space's heads end in the framework's output layer; pass output_layer=True")
        if self.slot == "projector":
            return self.projector_space(self.hidden_dim or out_dim).build_layers(in_dim, out_dim, num_layers, output)
        if in_dim != out_dim:
            raise ValueError(f"a predictor maps its input width to itself; got {in_dim} -> {out_dim}")
        if num_layers != 1:
            raise ValueError(f"the siam space's predictor is one choice among whole predictors, not {num_layers} "
                             "layers: leave the predictor's layer count at 1")
        return [PredictorFamilyLayer(in_dim, self.hidden_dim or out_dim, self.predictors, output)]

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"name": self.name, "slot": self.slot}
        if self.hidden_dim is not None:
            d["hidden_dim"] = self.hidden_dim
        if self.slot == "projector":
            return {**d, "norms": list(self.norms), "activations": list(self.activations), "allow_skip": self.allow_skip}
        return {**d, "predictors": list(self.predictors)}

    @classmethod
    def from_dict(cls, d: Mapping) -> "SiamSpace":
        return cls._from_fields(d, lists=("norms", "activations", "predictors"))

    def check_genotype(self, genotype: Genotype) -> None:
        if self.slot == "projector":
            hidden = self.hidden_dim or genotype.out_dim
            return self.projector_space(hidden).check_genotype(genotype)
        layers = genotype.layers
        dim, hidden = genotype.out_dim, self.hidden_dim or genotype.out_dim
        for family in self.predictors:
            expected = predictor_layers(family, dim, hidden, layers[-1])
            if len(layers) == len(expected) and all(replace(a, fixed=False) == replace(b, fixed=False)
                                                    for a, b in zip(layers, expected)):
                return
        raise GenotypeError(f"layers: {genotype.describe()!r} is none of the siam space's predictors "
                            f"({', '.join(self.predictors)})")
