"""The standard heads of SimSiam, SimCLR and MoCo as genotypes, plus the NASiam paper's
published SimSiam genotype and lightly's and solo-learn's heads at a run's dims
(`lightly_heads`, `solo_learn_heads`).

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

from nasiam._registry import Registry
from nasiam.head.hub import HUB_PREFIX
from nasiam.head.nas_head import NASHead
from nasiam.space.genotype import Genotype, LayerSpec
from nasiam.space.nasiam_paper import NASiamSpace

__all__ = ["register_preset", "get_preset", "list_presets", "create_head", "nasiam_paper_simsiam", "lightly_heads",
           "solo_learn_heads", "LIBRARY_HEADS", "register_library_heads"]

_PRESETS: Registry[Callable[..., Genotype]] = Registry("preset")


def register_preset(name: str, *, overwrite: bool = False):
    """Decorator: register a function returning a `Genotype` (keyword arguments: its widths)."""
    def _register(fn: Callable[..., Genotype]):
        return _PRESETS.register(name, fn, overwrite=overwrite)

    return _register


def list_presets() -> list[str]:
    return sorted(_PRESETS)


def get_preset(name: str, **kwargs) -> Genotype:
    """The genotype of preset `name`; keyword arguments override its widths."""
    return _PRESETS[name](**kwargs)


def create_head(name: str, in_dim: int | None = None, **kwargs) -> NASHead:
    """A freshly initialised `NASHead` of preset `name` for `in_dim` input features, or, as timm's
    `create_model` does, a head from the Hub: `create_head("hf-hub:user/name", subfolder=...)`."""
    if name.startswith(HUB_PREFIX):
        head = NASHead.from_pretrained(name, **kwargs)
        if in_dim is not None and in_dim != head.in_dim:
            raise ValueError(f"{name} takes {head.in_dim} input features, not in_dim={in_dim}")
        return head
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


@register_preset("linear_predictor")
def linear_predictor(out_dim: int = 2048) -> Genotype:
    """A linear predictor, one `Linear(d, d)` without norm, activation or bias, trained by
    gradient descent: the baseline that DirectPred's closed form (`directpred_predictor`) beats."""
    return _genotype("linear_predictor", [_output(out_dim, "none", bias=False)],
                     "Tian, Chen & Ganguli 2021 (arXiv 2102.06810), their trained linear baseline")


@register_preset("directpred_predictor")
def directpred_predictor(out_dim: int = 2048) -> Genotype:
    """DirectPred's predictor: a linear map set in closed form from its input's running
    correlation, not trained (`nasiam.head.DirectPredLinear`)."""
    return _genotype("directpred_predictor", [LayerSpec(op="directpred", width=out_dim, fixed=True)],
                     "Tian, Chen & Ganguli 2021 (arXiv 2102.06810), facebookresearch/luckmatters")


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


# -- other libraries' default heads, at a run's dims -----------------------------------------
# Baselines for `nasiam compare --heads lightly,solo-learn`: each library's own head for the
# framework, layer for layer, at the run's widths (the library's structure, not nasiam's: both
# build SimSiam's 3-layer projector whatever --proj_layers says). tests/test_presets.py checks
# them against lightly's modules and a table of solo-learn's. A head a library does not define
# is a ValueError, never a look-alike.

LIGHTLY_VERSION = "1.6.0"
LIGHTLY_SOURCE = f"lightly {LIGHTLY_VERSION}, lightly/models/modules/heads.py"
SOLO_LEARN_COMMIT = "9187ea39c2c3f43c455ab06664d2b019a9802954"   # vturrisi/solo-learn, version 1.0.6
SOLO_LEARN_SOURCE = f"vturrisi/solo-learn@{SOLO_LEARN_COMMIT[:12]}"


# {library: {framework: (builder, takes a predictor)}}; a builder maps (in_dim, hidden_dim,
# out_dim, pred_hidden_dim, backbone) to {slot: (where upstream builds it, the preset with its
# layers, in_dim)}. Tables rather than branches: a new framework declares its heads here with
# `register_library_heads`, next to its presets, or leaves them out (the compare row is refused).
_LIBRARY_TABLES: dict[str, dict[str, tuple[Callable[..., dict], bool]]] = {"lightly": {}, "solo-learn": {}}
# what a library lacks and why, rather than a look-alike head
_LIBRARY_LACKS = {("lightly", "mocov3"): f"lightly {LIGHTLY_VERSION} has no MoCo v3 heads: no MoCo v3 prediction "
                                         "head, and MoCoProjectionHead's defaults are MoCo v2's"}


def register_library_heads(library: str, framework: str, predictor: bool = False):
    """Declare `library`'s ("lightly", "solo-learn") heads for `framework` (a decorator);
    `predictor`: they include one, so `pred_hidden_dim` is required."""

    def _register(build: Callable[..., dict]) -> Callable[..., dict]:
        _LIBRARY_TABLES[library][framework] = (build, predictor)
        return build

    return _register


def _library_heads(library: str, source: str, framework: str, in_dim: int, hidden_dim: int, out_dim: int,
                   pred_hidden_dim: int | None, backbone: str) -> dict[str, Genotype]:
    table = _LIBRARY_TABLES[library]
    if (library, framework) in _LIBRARY_LACKS:
        raise ValueError(_LIBRARY_LACKS[library, framework])
    if framework not in table:
        raise ValueError(f"{library} heads: unknown framework {framework!r}; known: {', '.join(table)}")
    build, predictor = table[framework]
    if predictor and pred_hidden_dim is None:
        raise ValueError(f"{library}'s {framework} heads include a predictor: pass pred_hidden_dim")
    heads = build(in_dim, hidden_dim, out_dim, pred_hidden_dim, backbone)
    prefix = library.replace("-", "_")
    return {slot: _genotype(f"{prefix}_{framework}_{slot}", list(preset.layers), f"{source}, {where}", width_in)
            for slot, (where, preset, width_in) in heads.items()}


def lightly_heads(framework: str, in_dim: int, hidden_dim: int, out_dim: int,
                  pred_hidden_dim: int | None = None) -> dict[str, Genotype]:
    """lightly's default heads for `framework` ("simsiam", "simclr", "mocov2") as {slot: Genotype}:
    each head class with its constructor defaults but the widths. lightly's `ProjectionHead`
    gives a Linear a bias exactly when no BatchNorm follows it, as nasiam's default does.
    No MoCo v3 (a ValueError): lightly has no MoCo v3 prediction head.
    """
    return _library_heads("lightly", LIGHTLY_SOURCE, framework, in_dim, hidden_dim, out_dim, pred_hidden_dim, "")


@register_library_heads("lightly", "simsiam", predictor=True)
def _lightly_simsiam(in_dim, hidden_dim, out_dim, pred, backbone):
    return {
        # SimSiamProjectionHead: 3 blocks, BN on each (the last without affine), ReLU on two
        "projector": ("SimSiamProjectionHead", simsiam_projector(hidden_dim, out_dim), in_dim),
        # SimSiamPredictionHead: Linear-BN-ReLU, then a plain Linear with bias
        "predictor": ("SimSiamPredictionHead", simsiam_predictor(pred, out_dim), out_dim)}


@register_library_heads("lightly", "simclr")
def _lightly_simclr(in_dim, hidden_dim, out_dim, pred, backbone):
    return {"projector": ("SimCLRProjectionHead (num_layers=2, batch_norm=True)",
                          simclr_projector(hidden_dim, out_dim), in_dim)}


@register_library_heads("lightly", "mocov2")
def _lightly_mocov2(in_dim, hidden_dim, out_dim, pred, backbone):
    return {"projector": ("MoCoProjectionHead (num_layers=2, batch_norm=False)",
                          mocov2_projector(hidden_dim, out_dim), in_dim)}


def solo_learn_heads(framework: str, in_dim: int, hidden_dim: int, out_dim: int,
                     pred_hidden_dim: int | None = None, backbone: str = "resnet18") -> dict[str, Genotype]:
    """solo-learn's heads for `framework` ("simsiam", "simclr", "mocov2", "mocov3") as
    {slot: Genotype}: the `projector`/`predictor` its method classes build (solo/methods/ at
    SOLO_LEARN_COMMIT). MoCo v3 depends on the backbone's name as solo-learn's does: "resnet"
    gets 2-layer heads, any other the 3-layer projector and a predictor ending in BN (ViT).

    One difference that changes nothing: solo-learn's SimSiam projector gives its output
    Linear a bias and freezes it (`requires_grad = False`, "not use bias as it is followed by
    BN"). A constant added before a BatchNorm is removed by its mean (exactly with batch
    statistics; in running statistics from the first updates on), so nasiam's Linear without
    bias is the same head with the same trainable parameters.
    """
    return _library_heads("solo-learn", SOLO_LEARN_SOURCE, framework, in_dim, hidden_dim, out_dim, pred_hidden_dim,
                          backbone)


@register_library_heads("solo-learn", "simsiam", predictor=True)
def _solo_learn_simsiam(in_dim, hidden_dim, out_dim, pred, backbone):
    return {
        # SimSiam.__init__: Linear(no bias)-BN-ReLU x2, Linear(frozen bias)-BN(affine=False)
        "projector": ("solo/methods/simsiam.py SimSiam.projector", simsiam_projector(hidden_dim, out_dim), in_dim),
        # Linear(no bias)-BN-ReLU, Linear(with bias)
        "predictor": ("solo/methods/simsiam.py SimSiam.predictor", simsiam_predictor(pred, out_dim), out_dim)}


# SimCLR.projector and MoCoV2Plus.projector: Linear-ReLU-Linear, biases, no BN
@register_library_heads("solo-learn", "simclr")
def _solo_learn_simclr(in_dim, hidden_dim, out_dim, pred, backbone):
    return {"projector": ("solo/methods/simclr.py SimCLR.projector", mocov2_projector(hidden_dim, out_dim), in_dim)}


@register_library_heads("solo-learn", "mocov2")
def _solo_learn_mocov2(in_dim, hidden_dim, out_dim, pred, backbone):
    return {"projector": ("solo/methods/mocov2plus.py MoCoV2Plus.projector", mocov2_projector(hidden_dim, out_dim),
                          in_dim)}


@register_library_heads("solo-learn", "mocov3", predictor=True)
def _solo_learn_mocov3(in_dim, hidden_dim, out_dim, pred, backbone):
    # MoCoV3._build_mlp(num_layers, ...): Linear(no bias) everywhere, BN-ReLU after the
    # hidden ones, BN(affine=False) after the last when last_bn (the default)
    if "resnet" in backbone:
        branch = "resnet backbone"
        projector = mocov3_projector(hidden_dim, out_dim)                        # _build_mlp(2, ...)
        predictor = mocov3_predictor(pred, out_dim)                              # last_bn=False
    else:
        branch = "non-resnet backbone"
        projector = simsiam_projector(hidden_dim, out_dim)                       # _build_mlp(3, ...)
        predictor = Genotype(layers=(_hidden(pred), _output(out_dim, "batchnorm_noaffine")))  # last_bn=True
    return {"projector": (f"solo/methods/mocov3.py MoCoV3.projector ({branch})", projector, in_dim),
            "predictor": (f"solo/methods/mocov3.py MoCoV3.predictor ({branch})", predictor, out_dim)}


# `nasiam compare` head kinds -> builders, called as fn(framework, in_dim, hidden_dim,
# out_dim, pred_hidden_dim[, backbone=...])
LIBRARY_HEADS: dict[str, Callable[..., dict[str, Genotype]]] = {"lightly": lightly_heads,
                                                                "solo-learn": solo_learn_heads}
