"""The standard heads of SimSiam, SimCLR and MoCo as genotypes, plus the NASiam paper's
published SimSiam genotype.

Every preset is a function returning a `Genotype`, registered by name (timm-style), so a
standard head is one call away::

    from nasiam.presets import create_head
    projector = create_head("simsiam_projector", in_dim=2048)

Layer-for-layer they match the reference implementations (facebookresearch/simsiam,
facebookresearch/moco(-v3), lightly's heads); tests check shapes and parameter counts. The
framework's fixed output layer is marked `fixed`, the rest lies inside the mlp space.
"""
from __future__ import annotations

from typing import Callable

from nasiam.head.nas_head import NASHead
from nasiam.space.genotype import Genotype, LayerSpec
from nasiam.space.nasiam_paper import NASiamSpace

__all__ = ["register_preset", "get_preset", "list_presets", "create_head", "nasiam_paper_simsiam"]

_PRESETS: dict[str, Callable[..., Genotype]] = {}


def register_preset(name: str):
    def _register(fn: Callable[..., Genotype]):
        if name in _PRESETS:
            raise ValueError(f"preset {name!r} is already registered")
        _PRESETS[name] = fn
        return fn

    return _register


def list_presets() -> list[str]:
    return sorted(_PRESETS)


def get_preset(name: str, **kwargs) -> Genotype:
    """The genotype of preset `name`; keyword arguments override its widths."""
    if name not in _PRESETS:
        raise KeyError(f"unknown preset {name!r}; known: {', '.join(list_presets())}")
    return _PRESETS[name](**kwargs)


def create_head(name: str, in_dim: int | None = None, **kwargs) -> NASHead:
    """A freshly initialised `NASHead` of preset `name` for `in_dim` input features."""
    return NASHead(get_preset(name, **kwargs), in_dim)


def _hidden(width: int, norm: str = "batchnorm", activation: str = "relu", bias: bool | None = None) -> LayerSpec:
    return LayerSpec(width=width, norm=norm, activation=activation, bias=bias)


def _output(width: int, norm: str, bias: bool | None = None) -> LayerSpec:
    return LayerSpec(width=width, norm=norm, bias=bias, fixed=True)


def _genotype(name: str, layers: list[LayerSpec], source: str, in_dim: int | None = None) -> Genotype:
    return Genotype(layers=tuple(layers), in_dim=in_dim, meta={"preset": name, "source": source})


@register_preset("simsiam_projector")
def simsiam_projector(hidden_dim: int = 2048, out_dim: int = 2048) -> Genotype:
    """SimSiam, ImageNet: 3 layers, BN on each, ReLU on the first two, output BN without affine."""
    return _genotype("simsiam_projector",
                     [_hidden(hidden_dim), _hidden(hidden_dim), _output(out_dim, "batchnorm_noaffine")],
                     "Chen & He 2021 (arXiv 2011.10566), facebookresearch/simsiam")


@register_preset("simsiam_projector_cifar")
def simsiam_projector_cifar(hidden_dim: int = 2048, out_dim: int = 2048) -> Genotype:
    """SimSiam, CIFAR variant: 2 layers (the paper's CIFAR experiments, solo-learn's recipe)."""
    return _genotype("simsiam_projector_cifar", [_hidden(hidden_dim), _output(out_dim, "batchnorm_noaffine")],
                     "Chen & He 2021, CIFAR experiments")


@register_preset("simsiam_predictor")
def simsiam_predictor(hidden_dim: int = 512, out_dim: int = 2048) -> Genotype:
    """SimSiam predictor: 2048-512-2048 bottleneck, BN + ReLU in the middle, plain output."""
    return _genotype("simsiam_predictor", [_hidden(hidden_dim), _output(out_dim, "none")],
                     "Chen & He 2021, facebookresearch/simsiam")


@register_preset("simclr_projector")
def simclr_projector(hidden_dim: int = 2048, out_dim: int = 128) -> Genotype:
    """SimCLR: 2048-2048-128 with ReLU; BN after both Linears as in the official TF code and
    lightly's `SimCLRProjectionHead`."""
    return _genotype("simclr_projector", [_hidden(hidden_dim), _output(out_dim, "batchnorm")],
                     "Chen et al. 2020 (arXiv 2002.05709), google-research/simclr, lightly")


@register_preset("mocov2_projector")
def mocov2_projector(hidden_dim: int = 2048, out_dim: int = 128) -> Genotype:
    """MoCo v2: Linear(2048) - ReLU - Linear(128), no BN, with biases."""
    return _genotype("mocov2_projector", [_hidden(hidden_dim, norm="none"), _output(out_dim, "none")],
                     "Chen et al. 2020 (arXiv 2003.04297), facebookresearch/moco")


@register_preset("mocov3_projector")
def mocov3_projector(hidden_dim: int = 4096, out_dim: int = 256) -> Genotype:
    """MoCo v3 with a ResNet: 2 layers (the official `MoCo_ResNet`; the 3-layer projector is
    its ViT variant), BN everywhere, output BN without affine, no biases."""
    return _genotype("mocov3_projector", [_hidden(hidden_dim), _output(out_dim, "batchnorm_noaffine")],
                     "Chen et al. 2021 (arXiv 2104.02057), facebookresearch/moco-v3 (MoCo_ResNet)")


@register_preset("mocov3_predictor")
def mocov3_predictor(hidden_dim: int = 4096, out_dim: int = 256) -> Genotype:
    """MoCo v3 predictor: 2 layers, BN + ReLU in the middle, plain output without bias."""
    return _genotype("mocov3_predictor", [_hidden(hidden_dim), _output(out_dim, "none", bias=False)],
                     "Chen et al. 2021, facebookresearch/moco-v3")


@register_preset("directpred_predictor")
def directpred_predictor(out_dim: int = 2048) -> Genotype:
    """A linear predictor, one `Linear(d, d)` without norm, activation or bias: the baseline
    of DirectPred (Tian et al. 2021, arXiv 2102.06810), who show that a linear predictor
    trained by gradient descent matches SimSiam's MLP one. A strong baseline for predictor
    search, which keeps proposing near-linear predictors."""
    return _genotype("directpred_predictor", [_output(out_dim, "none", bias=False)],
                     "Tian, Chen & Ganguli 2021 (arXiv 2102.06810)")


# The NASiam paper's SimSiam genotype on CIFAR-10 with ResNet-18 (CIFAR stem, 512 features),
# as published in its repository (SimSiam/genotypes/cifar10_resnet18.txt).
NASIAM_SIMSIAM_CIFAR10_RESNET18 = {
    "encoder": ["linear_relu", "linear_silu", "linear_elu", "identity", "identity", "linear_relu"],
    "predictor": ["linear_hardswish", "avgpool_3x3", "avgpool_3x3", "linear_hardswish"],
}


def nasiam_paper_simsiam(projector_ops: list[str], predictor_ops: list[str], in_dim: int = 512,
                         dim: int = 2048, pred_dim: int = 512) -> tuple[Genotype, Genotype]:
    """Projector and predictor genotypes of a NASiam SimSiam model, built as the paper's
    reference code builds them: the projector cell keeps the backbone width and is followed
    by the fixed Linear(dim) + BN without affine; the predictor cell maps dim -> pred_dim ->
    ... -> dim."""
    source = {"source": "Heuillet et al. 2023 (arXiv 2302.00059), NASiam repository"}
    projector = NASiamSpace().compile(projector_ops, in_dim, dim, output=_output(dim, "batchnorm_noaffine"),
                                      meta={"preset": "nasiam_simsiam_projector", **source})
    predictor = NASiamSpace(hidden_dim=pred_dim).compile(predictor_ops, dim, dim,
                                                         meta={"preset": "nasiam_simsiam_predictor", **source})
    return projector, predictor


@register_preset("nasiam_simsiam_cifar10_resnet18_projector")
def nasiam_simsiam_cifar10_resnet18_projector(in_dim: int = 512, dim: int = 2048) -> Genotype:
    """The paper's searched SimSiam projector (CIFAR-10, ResNet-18): 4 Linear-BN layers with
    relu/silu/elu/relu at the backbone width, then the fixed 2048-d output."""
    return nasiam_paper_simsiam(NASIAM_SIMSIAM_CIFAR10_RESNET18["encoder"],
                                NASIAM_SIMSIAM_CIFAR10_RESNET18["predictor"], in_dim=in_dim, dim=dim)[0]


@register_preset("nasiam_simsiam_cifar10_resnet18_predictor")
def nasiam_simsiam_cifar10_resnet18_predictor(dim: int = 2048, pred_dim: int = 512) -> Genotype:
    """The paper's searched SimSiam predictor: Linear-BN-hardswish to 512, two 1-D average
    pools (each with BN), then a plain Linear back to 2048."""
    return nasiam_paper_simsiam(NASIAM_SIMSIAM_CIFAR10_RESNET18["encoder"],
                                NASIAM_SIMSIAM_CIFAR10_RESNET18["predictor"], dim=dim, pred_dim=pred_dim)[1]
