"""Registries of the space: the element-wise choices a head layer can make (activations and
norms) and the search spaces themselves (`SPACES`, filled by `nasiam.space.register_space`).

The element registries map a name (the string stored in genotype JSON) to a factory. Names are the
only thing a genotype file can refer to, so loading a file can never reach anything that was
not registered here in code.

Users extend the space with a function call or a decorator::

    from nasiam.space import register_activation

    @register_activation("squared_relu")
    class SquaredReLU(torch.nn.Module):
        def forward(self, x):
            return torch.relu(x) ** 2
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch.nn as nn

from nasiam._registry import Registry

__all__ = ["ActivationEntry", "NormEntry", "register_activation", "register_norm", "create_activation", "create_norm",
           "list_activations", "list_norms", "get_norm", "get_activation", "SPACES"]

_NAME_RULE = (r"[a-z][a-z0-9_]{0,47}", "use lower-case letters, digits and '_' (at most 48 characters, "
              "starting with a letter)")


@dataclass(frozen=True)
class ActivationEntry:
    name: str
    factory: Callable[[], nn.Module]


@dataclass(frozen=True)
class NormEntry:
    """A normalisation applied after a layer's Linear.

    `factory(width)` builds the module for a fixed head. `per_channel` says whether the
    statistics are computed per channel (BatchNorm, no norm), in which case the supernet can
    apply it once at the largest width and slice it on export. Norms whose statistics span
    the features (LayerNorm) depend on the width chosen and are handled by the supernet
    explicitly; user norms of that kind can be used in fixed heads but not searched.
    """

    name: str
    factory: Callable[[int], nn.Module]
    per_channel: bool


_ACTIVATIONS: Registry[ActivationEntry] = Registry(
    "activation", hint=" (register new ones with nasiam.space.register_activation)", name_rule=_NAME_RULE)
_NORMS: Registry[NormEntry] = Registry(
    "norm", hint=" (register new ones with nasiam.space.register_norm)", name_rule=_NAME_RULE)
# name -> SearchSpace subclass; below the spaces so that a genotype file's space record can be
# checked (nasiam.space.genotype) without importing them
SPACES: Registry[Any] = Registry("search space")


def register_activation(name: str, factory: Callable[[], nn.Module] | None = None, *, overwrite: bool = False):
    """Register an activation under `name`. Usable as `register_activation(name, factory)`
    or as a decorator on a module class / zero-argument factory.

    Activations must be parameter-free: the supernet evaluates every candidate on the same
    tensor and the exported head rebuilds them from their name alone.
    """

    def _register(fn: Callable[[], nn.Module]):
        _ACTIVATIONS.check(name, overwrite=overwrite)
        probe = fn()
        if not isinstance(probe, nn.Module):
            raise TypeError(f"activation factory for {name!r} must return an nn.Module, got {type(probe).__name__}")
        if any(True for _ in probe.parameters()):
            raise ValueError(f"activation {name!r} has parameters; activations in the search space must be parameter-free")
        if getattr(probe, "inplace", False):
            raise ValueError(f"activation {name!r} works in place; the supernet feeds one tensor to every candidate, "
                             "so register the out-of-place version (inplace=False)")
        _ACTIVATIONS.register(name, ActivationEntry(name, fn), overwrite=overwrite)
        return fn

    return _register if factory is None else _register(factory)


def register_norm(name: str, factory: Callable[[int], nn.Module] | None = None, *, per_channel: bool = True,
                  overwrite: bool = False):
    """Register a norm under `name`; `factory(width)` builds it. See `NormEntry` for `per_channel`."""

    def _register(fn: Callable[[int], nn.Module]):
        _NORMS.register(name, NormEntry(name, fn, per_channel), overwrite=overwrite)
        return fn

    return _register if factory is None else _register(factory)


def get_activation(name: str) -> ActivationEntry:
    return _ACTIVATIONS[name]


def create_activation(name: str) -> nn.Module:
    return get_activation(name).factory()


def get_norm(name: str) -> NormEntry:
    return _NORMS[name]


def create_norm(name: str, width: int) -> nn.Module:
    return get_norm(name).factory(width)


def list_activations() -> list[str]:
    return list(_ACTIVATIONS)


def list_norms() -> list[str]:
    return list(_NORMS)


# The built-in candidates (DESIGN.md, "The search space"). Default constructor arguments are
# the ones PyTorch and the reference heads use.
for _name, _activation in {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "hardswish": nn.Hardswish, "elu": nn.ELU,
                           "mish": nn.Mish, "leaky_relu": nn.LeakyReLU, "identity": nn.Identity}.items():
    register_activation(_name, _activation)

register_norm("batchnorm", nn.BatchNorm1d)
# SimSiam's and MoCo v3's projector outputs: BatchNorm without the learnable affine.
register_norm("batchnorm_noaffine", lambda width: nn.BatchNorm1d(width, affine=False))
register_norm("layernorm", nn.LayerNorm, per_channel=False)
register_norm("none", lambda width: nn.Identity())
