"""What every SSL framework shares: head slots, head construction, and the split of a
training step into an encoding (backbones) and a head loss.

The split is what makes a cheap architecture step possible: the architecture logits live only
in the heads, so the search computes backbone features without gradients and back-propagates
the loss through the heads alone.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping, Sequence

import torch
import torch.nn as nn
from torch import Tensor

from nasiam._arguments import check_type
from nasiam.head import NASHead, SearchableHead
from nasiam.presets import get_preset
from nasiam.search.architect import Encoded  # the search's model protocol, which frameworks implement
from nasiam.space.directpred import frozen_statistics
from nasiam.space.genotype import Genotype
from nasiam.space.spaces import SearchSpace, create_space

__all__ = ["HeadSlot", "Encoded", "SSLFramework", "HeadChoice", "genotype_misfit"]

# How a head slot may be filled: a module (NASHead, SearchableHead or any nn.Module), a
# Genotype, a preset name, "default" (the framework's standard head) or "search" (a
# SearchableHead following the framework's conventions).
HeadChoice = nn.Module | Genotype | str


@dataclass(frozen=True)
class HeadSlot:
    """One head of a framework: where it sits, its dims, and its conventions."""

    name: str                      # attribute on the framework: "projector", "predictor"
    in_dim: int
    out_dim: int
    preset: str                    # the standard head, a name in nasiam.presets
    preset_kwargs: Mapping[str, int] = field(default_factory=dict)
    output_norm: str = "none"      # the fixed output layer of a searched head
    output_bias: bool | None = None
    num_layers: int = 1            # searchable layers before the output layer, by default


class SSLFramework(nn.Module, ABC):
    """A siamese SSL method: a backbone, named head slots, and a loss.

    Args:
        backbone: maps a batch of images to (batch, feature_dim) features.
        feature_dim: the backbone's output width.
        heads: "default", "search", or a mapping from slot name to a `HeadChoice`; slots
            not in the mapping get their default.
        space: the search space of searched heads (default `MLPSpace()`).
        num_layers: per slot, searchable layers before the output layer.
        **dims: the framework's head widths (see each subclass).
    """

    name: ClassVar[str]

    # -- what a training run asks of the method -----------------------------------------
    # Declared here, read by `nasiam search`/`pretrain`, the config checks, the data pipeline
    # and the integrations, so that none of them branches on a method's name: a new method is
    # one file (see docs/contributing.md).
    #
    # Constructor options (beyond the head widths `head_slots` takes) that `config_kwargs`
    # reads from a run configuration's attributes of the same name.
    config_options: ClassVar[tuple[str, ...]] = ()
    # The two-view augmentation recipe, a name in `nasiam.data.transforms.RECIPES`.
    augmentation: ClassVar[str] = "mocov2"
    # The default of --zero_init_residual (the last BN of each residual block starts at zero).
    zero_init_residual: ClassVar[bool] = False
    # Whether --fix_pred_lr keeps the predictor at the base rate, unscheduled (SimSiam's
    # section 4.4; solo-learn's `static_lr` in `learnable_params`).
    fixed_predictor_lr: ClassVar[bool] = False
    # The solo-learn method this one is, as (its key in `solo.methods.METHODS`, its class name),
    # for `nasiam.integrations.solo_learn`; None: solo-learn has none.
    solo_learn_method: ClassVar[tuple[str, str] | None] = None

    @classmethod
    def dim_names(cls) -> tuple[str, ...]:
        """The head widths the method takes: the keyword arguments of `head_slots` after
        `feature_dim`."""
        params = list(inspect.signature(cls.head_slots).parameters.values())[1:]
        return tuple(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))

    @classmethod
    def config_kwargs(cls, cfg: Any) -> dict[str, Any]:
        """Constructor keyword arguments from a run configuration (any object with attributes,
        e.g. `nasiam.config.RunConfig`): each head width of `dim_names` and each option of
        `config_options` that it sets; None or absent leaves the method's default."""
        values = {name: getattr(cfg, name, None) for name in (*cls.dim_names(), *cls.config_options)}
        return {name: value for name, value in values.items() if value is not None}

    # The configuration options that size `state_bytes` and what each sizes, for the error
    # that names them: {"queue_size": "the queue"}.
    state_options: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def state_bytes(cls, cfg: Any) -> int:
        """Memory the method keeps beside its weights for a run configuration (MoCo v2's queue),
        for the machine check before a run."""
        return 0

    @classmethod
    def published_heads(cls, slots: Mapping[str, HeadSlot]) -> dict[str, Genotype]:
        """Searched heads a paper published for this method (`nasiam compare --heads paper`),
        at the widths of `slots` (from `head_slots`); a ValueError where there are none."""
        raise ValueError(f"{cls.name} has no published searched heads; compare its default heads or a search instead")

    def __init__(self, backbone: nn.Module, feature_dim: int, heads: str | Mapping[str, HeadChoice] = "default",
                 space: SearchSpace | str | None = None, num_layers: Mapping[str, int] | None = None, **dims):
        super().__init__()
        # None (or a plain function) was taken here and failed at the first forward (#33 probe 14, K11)
        self.backbone = check_type("backbone", backbone, nn.Module, "an nn.Module mapping images to (batch, "
                                   "feature_dim) features")
        self.feature_dim = feature_dim
        self.slots = self.head_slots(feature_dim, **dims)
        if isinstance(heads, str):
            heads = {slot: heads for slot in self.slots}
        unknown = set(heads) - set(self.slots)
        if unknown:
            raise ValueError(f"{self.name} has head slots {sorted(self.slots)}, not {sorted(unknown)}")
        num_layers = dict(num_layers or {})
        for slot in self.slots.values():
            head = self._build_head(slot, heads.get(slot.name, "default"), space, num_layers.get(slot.name))
            setattr(self, slot.name, head)

    # -- what subclasses define -----------------------------------------------------
    @classmethod
    @abstractmethod
    def head_slots(cls, feature_dim: int, **dims) -> dict[str, HeadSlot]: ...

    def head_loss(self, encoded: Encoded, update_state: bool = True) -> dict[str, Tensor]:
        """The loss from backbone features; also returns `z`, the first view's projector
        output, detached (for collapse monitoring). `update_state=False` leaves the
        framework's state (MoCo's queue) untouched: for architecture steps. A method defines
        `_head_loss(encoded, update_state)`, the tensor work alone, run here inside
        `head_context(update_state)`: a CUDA-graphed architecture update compiles it apart from
        the context (`Architect(graphs=...)`). A method may override `head_loss` instead; it is
        then compiled whole."""
        with self.head_context(update_state):
            return self._head_loss(encoded, update_state)

    # -- heads ------------------------------------------------------------------------
    def _build_head(self, slot: HeadSlot, choice: HeadChoice, space, num_layers: int | None) -> nn.Module:
        if isinstance(choice, str) and choice == "search":
            if space is not None:   # a space may search each slot its own way (the siam space's predictor)
                space = (create_space(space) if isinstance(space, str) else space).for_slot(
                    slot.name, slot.preset_kwargs.get("hidden_dim"))
            return SearchableHead(slot.in_dim, slot.out_dim, num_layers or slot.num_layers, space,
                                  output_norm=slot.output_norm, output_bias=slot.output_bias)
        if isinstance(choice, str):
            name = slot.preset if choice == "default" else choice
            kwargs = slot.preset_kwargs if choice == "default" else {}
            choice = get_preset(name, **kwargs)
        if isinstance(choice, Genotype):
            misfit = genotype_misfit(choice, slot)
            if misfit:
                raise ValueError(f"{self.name}.{slot.name}: {misfit}; adjust the framework's dims or the genotype")
            # a genotype is an architecture: rebuild it for this slot's input width
            return NASHead(choice.with_in_dim(None), slot.in_dim)
        if isinstance(choice, nn.Module):
            check_head_dims(choice, slot.in_dim, slot.out_dim, f"{self.name}.{slot.name}")
            return choice
        raise TypeError(f"{self.name}.{slot.name}: expected an nn.Module, Genotype or name, got {type(choice).__name__}")

    def heads(self) -> dict[str, nn.Module]:
        return {name: getattr(self, name) for name in self.slots}

    # The predictor family a search falls back to when its family decision does not rise above
    # the noise floor (the `siam` space): the best predictor known for the method. The method's
    # own MLP unless a measurement says otherwise (SimSiam: DirectPred's closed form).
    prior_predictor_family = "mlp"

    def prior_decisions(self) -> dict[str, list[dict[str, Any]]]:
        """The declared prior of a search: per searchable head, per searchable layer, the option
        of each choice that the best known head takes, `{slot: [{choice: option}, ...]}`; a
        decision that does not rise above its noise floor falls back to it (`--below_noise
        prior`) instead of taking noise's argmax. The best known head is the method's standard
        one (its hidden layers kept, at their width, norm and activation; layers beyond its depth
        skipped) with `prior_predictor_family` where the space searches the predictor's family.
        A choice the space cannot express at the standard head's value has no prior (left out)."""
        prior = {}
        for slot, head in self.searchable_heads().items():
            standard = self.slots[slot]
            hidden = list(get_preset(standard.preset, **standard.preset_kwargs).layers[:-1])
            layers = []
            for i, layer in enumerate(head.searchable_layers()):
                spec = hidden[i] if i < len(hidden) else None
                wanted = {"keep": spec is not None, "family": self.prior_predictor_family}
                if spec is not None:
                    wanted.update(width=spec.width, norm=spec.norm, activation=spec.activation)
                layers.append({choice: wanted[choice] for choice, options in layer.choices.items()
                               if choice in wanted and wanted[choice] in options})
            prior[slot] = layers
        return prior

    def searchable_heads(self) -> dict[str, SearchableHead]:
        return {n: h for n, h in self.heads().items() if isinstance(h, SearchableHead)}

    def arch_parameters(self) -> list[nn.Parameter]:
        return [p for head in self.searchable_heads().values() for p in head.arch_parameters()]

    def weight_parameters(self) -> list[nn.Parameter]:
        arch = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if p.requires_grad and id(p) not in arch]

    def set_sampling(self, mode: str, tau: float | None = None) -> None:
        for head in self.searchable_heads().values():
            head.set_sampling(mode, tau)

    def shared_samples(self) -> contextlib.ExitStack:
        """One architecture sample per searchable head for the whole step (both views,
        projector and predictor, and the momentum target that follows it)."""
        stack = contextlib.ExitStack()
        for head in self.searchable_heads().values():
            stack.enter_context(head.shared_sample())
        return stack

    def fixed_heads(self) -> dict[str, NASHead]:
        """The NASHeads a search keeps as they are beside the searched ones (`nasiam search
        --predictor directpred`: the projector is searched, DirectPred's predictor is not).
        A model without a searchable head has none: it is not a search."""
        if not self.searchable_heads():
            return {}
        return {n: h for n, h in self.heads().items() if isinstance(h, NASHead)}

    def head_context(self, update_state: bool) -> contextlib.ExitStack:
        """What a head loss runs inside: one architecture sample per searchable head and, with
        `update_state=False` (architecture steps, trial scoring), the closed-form heads'
        statistics left alone, as MoCo's queue is."""
        stack = self.shared_samples()
        if not update_state:
            for head in self.heads().values():   # the heads only: no walk through the backbone each step
                stack.enter_context(frozen_statistics(head))
        return stack

    def genotypes(self, top_k: int | None = None, meta: Mapping | None = None) -> dict[str, Genotype]:
        """What the search has found: each searchable head's most probable genotype, and each
        fixed head's own (marked `fixed` in its meta), in slot order."""
        found, fixed = {}, self.fixed_heads()
        for n, h in self.heads().items():
            where = {"framework": self.name, "slot": n, **(meta or {})}
            if isinstance(h, SearchableHead):
                found[n] = h.genotype(top_k, where)
            elif n in fixed:
                found[n] = dataclasses.replace(h.genotype, meta={**h.genotype.meta, **where, "fixed": True})
        return found

    def export_heads(self) -> dict[str, NASHead]:
        """Each searchable head exported at its genotype with the supernet's weights, and a copy
        of each fixed head with its own (a closed-form head keeps its statistics)."""
        exported, fixed = {}, self.fixed_heads()
        for n, h in self.heads().items():
            if isinstance(h, SearchableHead):
                exported[n] = h.export(h.genotype(meta={"framework": self.name, "slot": n}))
            elif n in fixed:
                reference = next(h.buffers(), None)
                reference = reference if reference is not None else next(h.parameters())
                exported[n] = NASHead(h.genotype, h.in_dim).to(device=reference.device)
                exported[n].load_state_dict(h.state_dict())
        return exported

    # -- the step ---------------------------------------------------------------------
    def encode(self, views: Sequence[Tensor]) -> Encoded:
        """The backbone features of two views. Checked here, where every path starts (`forward`,
        the architecture step, the Lightning callback): a third view was encoded and dropped on
        the architecture path after `forward` refused it (#33 probe 16, M6)."""
        self._check_views(views)
        return Encoded(online=[self.backbone(v) for v in views])

    def forward(self, views: Sequence[Tensor], return_encoded: bool = False) -> dict[str, Any]:
        """The full SSL loss of a list of two views. With `return_encoded`, also the backbone
        features, detached (second-order DARTS reuses them)."""
        encoded = self.encode(views)
        out: dict[str, Any] = self.head_loss(encoded)
        out["h"] = encoded.online[0].detach()  # backbone features of the first view (collapse monitoring)
        if return_encoded:
            out["encoded"] = Encoded([f.detach() for f in encoded.online],
                                     None if encoded.target is None else [f.detach() for f in encoded.target])
        return out

    def _check_views(self, views: Sequence[Tensor]) -> None:
        """A list of two tensors of one batch size: a (B, C, H, W) tensor was iterated as
        B views, and views of 4 and 3 images gave a raw size mismatch (in MoCo v3 an IndexError
        from its labels) (#33 probe 14, K11)."""
        if isinstance(views, Tensor) or not isinstance(views, (list, tuple)):
            shape = f" of shape {list(views.shape)}" if isinstance(views, Tensor) else ""
            raise ValueError(f"{self.name} takes a list of views (one (batch, C, H, W) tensor per view), got "
                             f"{type(views).__name__}{shape}; pass [view1, view2]")
        if len(views) != 2:
            # more were encoded (costing compute, moving BatchNorm's statistics) and dropped from
            # the loss without a word (#33 probe 15, L3): no framework here has a multi-crop loss
            raise ValueError(f"{self.name} trains on two views per image, got {len(views)}: its loss compares "
                             "two views (no multi-crop loss); pass [view1, view2]")
        kinds = [type(v).__name__ for v in views if not isinstance(v, Tensor)]
        if kinds:
            raise ValueError(f"{self.name}'s views must be tensors, got {', '.join(kinds)}")
        sizes = [v.shape[0] if v.dim() else None for v in views]
        if len(set(sizes)) > 1:
            raise ValueError(f"{self.name}'s views are of different batch sizes {sizes}: each view holds the same "
                             "images, one tensor per view")

    @torch.no_grad()
    def update_momentum(self, momentum: float) -> None:
        """EMA update of momentum copies (no-op for frameworks without them)."""


def genotype_misfit(genotype: Genotype, slot: HeadSlot) -> str | None:
    """Why `genotype` cannot fill `slot`, or None: it is rebuilt for the slot's input width,
    but its output width is part of the architecture."""
    if genotype.out_dim != slot.out_dim:
        return f"the genotype outputs {genotype.out_dim} features, the slot needs {slot.out_dim}"
    return None


def check_head_dims(head: nn.Module, in_dim: int, out_dim: int, where: str) -> None:
    """Raise a clear error when `head` does not map in_dim features to out_dim; a module other
    than NASHead and SearchableHead is probed with a tiny batch in eval mode (restored after)."""
    if isinstance(head, (NASHead, SearchableHead)):
        got_in, got_out = head.in_dim, head.out_dim
    else:
        was_training = head.training
        head.eval()
        try:
            reference = next(head.parameters(), None)
            probe = torch.zeros(2, in_dim, device=reference.device if reference is not None else None,
                                dtype=reference.dtype if reference is not None else None)
            with torch.no_grad():
                out = head(probe)
            got_in, got_out = in_dim, out.shape[-1]
        except RuntimeError as e:
            raise ValueError(f"{where}: the head does not accept {in_dim} input features ({e}); "
                             f"build it with in_dim={in_dim}") from None
        finally:
            head.train(was_training)
    if got_in != in_dim:
        raise ValueError(f"{where}: the head takes {got_in} input features, the slot provides {in_dim}")
    if got_out != out_dim:
        raise ValueError(f"{where}: the head outputs {got_out} features, the slot needs {out_dim}")


class MomentumMixin:
    """Momentum (EMA) copies of the backbone and projector, as in MoCo.

    Searched heads: the momentum projector is an EMA of the online projector's *weights*,
    but its architecture logits are the online head's, copied at every update (and never
    trained). So both branches evaluate the same architecture: under softmax sampling the
    same mixture; under sampled paths (Gumbel, uniform) the very path the online branch
    sampled for the step, and the most probable one outside a step.
    """

    def _init_momentum(self) -> None:
        self.momentum_backbone = copy.deepcopy(self.backbone)
        self.momentum_projector = copy.deepcopy(self.projector)
        for module in (self.momentum_backbone, self.momentum_projector):
            for p in module.parameters():
                p.requires_grad = False

    def _momentum_pairs(self):
        return ((self.backbone, self.momentum_backbone), (self.projector, self.momentum_projector))

    @torch.no_grad()
    def update_momentum(self, momentum: float) -> None:
        for online, target in self._momentum_pairs():
            online_params = dict(online.named_parameters())
            for name, p in target.named_parameters():
                source = online_params[name]
                if isinstance(online, SearchableHead) and ".arch." in f".{name}":
                    p.copy_(source)  # architecture: tied, not averaged
                else:
                    p.mul_(momentum).add_(source.detach(), alpha=1 - momentum)

    def _target_projector(self) -> nn.Module:
        online, target = self.projector, self.momentum_projector
        if isinstance(online, SearchableHead):
            if online.sampling == "softmax":
                target.set_sampling("softmax")
            else:
                decisions = online.current_decisions()
                if decisions is not None:
                    target.set_sampling("fixed", decisions=decisions)
                else:
                    target.set_sampling("argmax")
        return target

    @torch.no_grad()
    def _encode_target(self, views: Sequence[Tensor]) -> list[Tensor]:
        return [self.momentum_backbone(v) for v in views]

    def encode(self, views: Sequence[Tensor]) -> Encoded:
        self._check_views(views)
        return Encoded(online=[self.backbone(v) for v in views], target=self._encode_target(views))
