"""Presets against the published heads, layer by layer.

The reference modules below are written from the papers and the reference repositories'
architecture descriptions (facebookresearch/simsiam, moco, moco-v3; the NASiam repository's
op table); lightly's heads are an independent check when lightly is installed.
"""
import pytest
import torch
import torch.nn as nn

from nasiam.presets import create_head, get_preset, list_presets, nasiam_paper_simsiam
from nasiam.space import GenotypeError, MLPSpace, parse_paper_genotype


def _leaves(module):
    return [m for m in module.modules() if not list(m.children())]


def _signature(module):
    """(type, trainable parameter shapes, buffer shapes) per leaf module, identities dropped."""
    sig = []
    for m in _leaves(module):
        if isinstance(m, nn.Identity):
            continue
        params = tuple((n, tuple(p.shape)) for n, p in m.named_parameters() if p.requires_grad)
        buffers = tuple((n, tuple(b.shape)) for n, b in m.named_buffers())
        sig.append((type(m).__name__, params, buffers))
    return sig


def _copy_state_in_order(reference, ours):
    src = [t for m in _leaves(reference) for t in list(m.parameters()) + list(m.buffers())
           if not (isinstance(t, nn.Parameter) and not t.requires_grad)]
    dst = [t for m in _leaves(ours) for t in list(m.parameters()) + list(m.buffers())]
    assert len(src) == len(dst)
    with torch.no_grad():
        for s, d in zip(src, dst):
            d.copy_(s)


def _assert_same_head(reference, ours, in_dim):
    assert _signature(ours) == _signature(reference)
    trainable = sum(p.numel() for p in reference.parameters() if p.requires_grad)
    assert ours.num_parameters() == trainable
    _copy_state_in_order(reference, ours)
    x = torch.randn(8, in_dim)
    for train in (True, False):
        reference.train(train), ours.train(train)
        torch.testing.assert_close(ours(x), reference(x))


def _frozen_bias(linear):
    linear.bias.requires_grad = False  # "hack: not use bias as it is followed by BN"
    return linear


def test_simsiam_projector_imagenet():
    ref = nn.Sequential(nn.Linear(2048, 2048, bias=False), nn.BatchNorm1d(2048), nn.ReLU(),
                        nn.Linear(2048, 2048, bias=False), nn.BatchNorm1d(2048), nn.ReLU(),
                        _frozen_bias(nn.Linear(2048, 2048)), nn.BatchNorm1d(2048, affine=False))
    with torch.no_grad():
        ref[6].bias.zero_()
    _assert_same_head(ref, create_head("simsiam_projector", 2048), 2048)


def test_simsiam_projector_cifar_and_predictor():
    ref = nn.Sequential(nn.Linear(512, 2048, bias=False), nn.BatchNorm1d(2048), nn.ReLU(),
                        nn.Linear(2048, 2048, bias=False), nn.BatchNorm1d(2048, affine=False))
    _assert_same_head(ref, create_head("simsiam_projector_cifar", 512), 512)
    ref = nn.Sequential(nn.Linear(2048, 512, bias=False), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, 2048))
    _assert_same_head(ref, create_head("simsiam_predictor", 2048), 2048)


def test_mocov2_projector():
    ref = nn.Sequential(nn.Linear(2048, 2048), nn.ReLU(), nn.Linear(2048, 128))
    _assert_same_head(ref, create_head("mocov2_projector", 2048), 2048)


def _mocov3_mlp(num_layers, input_dim, mlp_dim, output_dim, last_bn):
    layers = []
    for i in range(num_layers):
        dim1 = input_dim if i == 0 else mlp_dim
        dim2 = output_dim if i == num_layers - 1 else mlp_dim
        layers.append(nn.Linear(dim1, dim2, bias=False))
        if i < num_layers - 1:
            layers += [nn.BatchNorm1d(dim2), nn.ReLU()]
        elif last_bn:
            layers.append(nn.BatchNorm1d(dim2, affine=False))
    return nn.Sequential(*layers)


def test_mocov3_projector_and_predictor():
    # facebookresearch/moco-v3 MoCo_ResNet: _build_mlp(2, ...) for the projector (3 layers is the ViT's)
    _assert_same_head(_mocov3_mlp(2, 2048, 4096, 256, True), create_head("mocov3_projector", 2048), 2048)
    _assert_same_head(_mocov3_mlp(2, 256, 4096, 256, False), create_head("mocov3_predictor", 256), 256)


def test_simclr_projector():
    ref = nn.Sequential(nn.Linear(2048, 2048, bias=False), nn.BatchNorm1d(2048), nn.ReLU(),
                        nn.Linear(2048, 128, bias=False), nn.BatchNorm1d(128))
    _assert_same_head(ref, create_head("simclr_projector", 2048), 2048)


def test_lightly_heads_match_when_installed():
    heads = pytest.importorskip("lightly.models.modules.heads")
    pairs = [
        (heads.SimSiamProjectionHead(512, 2048, 2048), "simsiam_projector", 512),
        (heads.SimSiamPredictionHead(2048, 512, 2048), "simsiam_predictor", 2048),
        (heads.SimCLRProjectionHead(512, 2048, 128), "simclr_projector", 512),
        (heads.MoCoProjectionHead(512, 2048, 128), "mocov2_projector", 512),
    ]
    for ref, name, in_dim in pairs:
        _assert_same_head(ref, create_head(name, in_dim), in_dim)


NASIAM_FILE = ("Genotype(encoder=[['linear_relu'], ['linear_silu'], ['linear_elu'], ['identity'], ['identity'], "
               "['linear_relu']], predictor=[['linear_hardswish'], ['avgpool_3x3'], ['avgpool_3x3'], "
               "['linear_hardswish']])")


def test_nasiam_paper_genotype_matches_the_papers_cells():
    def lin_bn(d_in, d_out, act):
        return [nn.Linear(d_in, d_out, bias=False), nn.BatchNorm1d(d_out), act]

    projector = nn.Sequential(*lin_bn(512, 512, nn.ReLU()), *lin_bn(512, 512, nn.SiLU()),
                              *lin_bn(512, 512, nn.ELU()), *lin_bn(512, 512, nn.ReLU()),
                              _frozen_bias(nn.Linear(512, 2048)), nn.BatchNorm1d(2048, affine=False))
    with torch.no_grad():
        projector[12].bias.zero_()
    predictor = nn.Sequential(*lin_bn(2048, 512, nn.Hardswish()),
                              nn.AvgPool1d(3, stride=1, padding=1), nn.BatchNorm1d(512),
                              nn.AvgPool1d(3, stride=1, padding=1), nn.BatchNorm1d(512),
                              nn.Linear(512, 2048))
    _assert_same_head(projector, create_head("nasiam_simsiam_cifar10_resnet18_projector"), 512)
    _assert_same_head(predictor, create_head("nasiam_simsiam_cifar10_resnet18_predictor"), 2048)


def test_paper_genotype_file_parses_without_eval():
    ops = parse_paper_genotype(NASIAM_FILE)
    assert ops["encoder"][0] == "linear_relu" and ops["predictor"][1] == "avgpool_3x3"
    projector, predictor = nasiam_paper_simsiam(ops["encoder"], ops["predictor"])
    assert projector.layers == get_preset("nasiam_simsiam_cifar10_resnet18_projector").layers
    assert predictor.layers == get_preset("nasiam_simsiam_cifar10_resnet18_predictor").layers
    with pytest.raises(GenotypeError, match="unknown NASiam op"):
        parse_paper_genotype(NASIAM_FILE.replace("identity", "conv_5x5"))
    with pytest.raises(GenotypeError, match="not a NASiam genotype"):
        parse_paper_genotype("__import__('os').system('ls')")


def test_every_preset_builds_and_its_searchable_part_lies_in_the_mlp_space():
    space = MLPSpace(widths=(128, 256, 512, 1024, 2048, 4096))
    for name in list_presets():
        g = get_preset(name)
        head = create_head(name, g.in_dim or 256)
        assert head(torch.randn(4, head.in_dim)).shape == (4, g.out_dim)
        if not name.startswith("nasiam"):  # the paper's predictor cell ends in a searched op
            assert g.layers[-1].fixed
            space.check_genotype(g)


def test_preset_widths_can_be_overridden_and_unknown_names_are_listed():
    assert get_preset("simsiam_projector", hidden_dim=1024, out_dim=512).describe() == (
        "linear1024-batchnorm-relu > linear1024-batchnorm-relu > linear512-batchnorm_noaffine")
    with pytest.raises(KeyError, match="known: .*simsiam_projector"):
        get_preset("byol_projector")
