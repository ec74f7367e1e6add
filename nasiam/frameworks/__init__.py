"""SSL frameworks: SimSiam, SimCLR, MoCo v2 and v3, with heads that are any `nn.Module`
(`NASHead`, `SearchableHead`, or your own). Pure PyTorch.

    from nasiam.frameworks import create_framework
    model = create_framework("simsiam", backbone, feature_dim=512, heads="search")
    loss = model([view1, view2])["loss"]
"""
from __future__ import annotations

from nasiam.frameworks.base import Encoded, HeadSlot, SSLFramework, check_head_dims
from nasiam.frameworks.moco import MoCoV2, MoCoV3
from nasiam.frameworks.simclr import SimCLR
from nasiam.frameworks.simsiam import SimSiam

FRAMEWORKS: dict[str, type[SSLFramework]] = {
    "simsiam": SimSiam,
    "simclr": SimCLR,
    "mocov2": MoCoV2,
    "mocov3": MoCoV3,
}
ALIASES = {"moco": "mocov2"}


def framework_class(name: str) -> type[SSLFramework]:
    key = ALIASES.get(name, name)
    if key not in FRAMEWORKS:
        raise KeyError(f"unknown framework {name!r}; choose one of {', '.join(list(FRAMEWORKS) + list(ALIASES))}")
    return FRAMEWORKS[key]


def create_framework(name: str, backbone, feature_dim: int, **kwargs) -> SSLFramework:
    """Build framework `name` ("simsiam", "simclr", "mocov2" or "moco", "mocov3")."""
    return framework_class(name)(backbone, feature_dim, **kwargs)


__all__ = ["SSLFramework", "HeadSlot", "Encoded", "SimSiam", "SimCLR", "MoCoV2", "MoCoV3", "FRAMEWORKS",
           "create_framework", "framework_class", "check_head_dims"]
