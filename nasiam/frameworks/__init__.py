"""SSL frameworks: SimSiam, SimCLR, MoCo v2 and v3, with heads that are any `nn.Module`
(`NASHead`, `SearchableHead`, or your own). Pure PyTorch.

    from nasiam.frameworks import create_framework
    model = create_framework("simsiam", backbone, feature_dim=512, heads="search")
    loss = model([view1, view2])["loss"]
"""
from __future__ import annotations

from nasiam._registry import Registry
from nasiam.frameworks.base import Encoded, HeadSlot, SSLFramework, check_head_dims
from nasiam.frameworks.moco import MoCoV2, MoCoV3
from nasiam.frameworks.simclr import SimCLR
from nasiam.frameworks.simsiam import SimSiam

FRAMEWORKS: Registry[type[SSLFramework]] = Registry("framework", hint=" (or the alias moco for mocov2)")
ALIASES = {"moco": "mocov2"}


def register_framework(cls: type[SSLFramework] | None = None, *, overwrite: bool = False):
    """Register an `SSLFramework` subclass under its `name` (a class decorator)."""

    def _register(framework: type[SSLFramework]) -> type[SSLFramework]:
        return FRAMEWORKS.register(framework.name, framework, overwrite=overwrite)

    return _register if cls is None else _register(cls)


for _cls in (SimSiam, SimCLR, MoCoV2, MoCoV3):
    register_framework(_cls)


def framework_class(name: str) -> type[SSLFramework]:
    return FRAMEWORKS[ALIASES.get(name, name)]


def create_framework(name: str, backbone, feature_dim: int, **kwargs) -> SSLFramework:
    """Build framework `name` ("simsiam", "simclr", "mocov2" or "moco", "mocov3")."""
    return framework_class(name)(backbone, feature_dim, **kwargs)


__all__ = ["SSLFramework", "HeadSlot", "Encoded", "SimSiam", "SimCLR", "MoCoV2", "MoCoV3", "FRAMEWORKS",
           "create_framework", "framework_class", "register_framework", "check_head_dims"]
