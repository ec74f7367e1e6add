"""Registries of the element-wise choices a head layer can make: activations and norms.

Both registries map a name (the string stored in genotype JSON) to a factory. Names are the
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

import re
from dataclasses import dataclass
from typing import Callable

import torch.nn as nn

__all__ = [
    "ActivationEntry",
    "NormEntry",
    "register_activation",
    "register_norm",
    "create_activation",
    "create_norm",
    "list_activations",
    "list_norms",
    "get_norm",
    "get_activation",
]

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")


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


_ACTIVATIONS: dict[str, ActivationEntry] = {}
_NORMS: dict[str, NormEntry] = {}


def _check_name(name: str, registry: dict, kind: str, overwrite: bool) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"{kind} name {name!r} is invalid: use lower-case letters, digits and '_' "
            "(at most 48 characters, starting with a letter)"
        )
    if name in registry and not overwrite:
        raise ValueError(f"{kind} {name!r} is already registered; pass overwrite=True to replace it")


def register_activation(name: str, factory: Callable[[], nn.Module] | None = None, *, overwrite: bool = False):
    """Register an activation under `name`. Usable as `register_activation(name, factory)`
    or as a decorator on a module class / zero-argument factory.

    Activations must be parameter-free: the supernet evaluates every candidate on the same
    tensor and the exported head rebuilds them from their name alone.
    """

    def _register(fn: Callable[[], nn.Module]):
        _check_name(name, _ACTIVATIONS, "activation", overwrite)
        probe = fn()
        if not isinstance(probe, nn.Module):
            raise TypeError(f"activation factory for {name!r} must return an nn.Module, got {type(probe).__name__}")
        if any(True for _ in probe.parameters()):
            raise ValueError(f"activation {name!r} has parameters; activations in the search space must be parameter-free")
        if getattr(probe, "inplace", False):
            raise ValueError(f"activation {name!r} works in place; the supernet feeds one tensor to every candidate, "
                             "so register the out-of-place version (inplace=False)")
        _ACTIVATIONS[name] = ActivationEntry(name, fn)
        return fn

    return _register if factory is None else _register(factory)


def register_norm(name: str, factory: Callable[[int], nn.Module] | None = None, *, per_channel: bool = True,
                  overwrite: bool = False):
    """Register a norm under `name`; `factory(width)` builds it. See `NormEntry` for `per_channel`."""

    def _register(fn: Callable[[int], nn.Module]):
        _check_name(name, _NORMS, "norm", overwrite)
        _NORMS[name] = NormEntry(name, fn, per_channel)
        return fn

    return _register if factory is None else _register(factory)


def _unknown(kind: str, name: object, known: dict) -> KeyError:
    return KeyError(f"unknown {kind} {name!r}; known: {', '.join(sorted(known))} "
                    f"(register new ones with nasiam.space.register_{kind})")


def get_activation(name: str) -> ActivationEntry:
    if name not in _ACTIVATIONS:
        raise _unknown("activation", name, _ACTIVATIONS)
    return _ACTIVATIONS[name]


def create_activation(name: str) -> nn.Module:
    return get_activation(name).factory()


def get_norm(name: str) -> NormEntry:
    if name not in _NORMS:
        raise _unknown("norm", name, _NORMS)
    return _NORMS[name]


def create_norm(name: str, width: int) -> nn.Module:
    return get_norm(name).factory(width)


def list_activations() -> list[str]:
    return list(_ACTIVATIONS)


def list_norms() -> list[str]:
    return list(_NORMS)


# The built-in candidates (DESIGN.md, "The search space"). Default constructor arguments are
# the ones PyTorch and the reference heads use.
register_activation("relu", nn.ReLU)
register_activation("gelu", nn.GELU)
register_activation("silu", nn.SiLU)
register_activation("hardswish", nn.Hardswish)
register_activation("elu", nn.ELU)
register_activation("mish", nn.Mish)
register_activation("leaky_relu", nn.LeakyReLU)
register_activation("identity", nn.Identity)

register_norm("batchnorm", nn.BatchNorm1d)
# SimSiam's and MoCo v3's projector outputs: BatchNorm without the learnable affine.
register_norm("batchnorm_noaffine", lambda width: nn.BatchNorm1d(width, affine=False))
register_norm("layernorm", nn.LayerNorm, per_channel=False)
register_norm("none", lambda width: nn.Identity())
