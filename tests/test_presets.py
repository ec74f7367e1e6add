"""Presets against the published heads, layer by layer.

The reference modules below are written from the papers and the reference repositories'
architecture descriptions (facebookresearch/simsiam, moco, moco-v3; the NASiam repository's
op table); lightly's heads are an independent check when lightly is installed. solo-learn's
heads (not installable here) are checked against a table written from its source, at the
commit named by SOLO_LEARN below.
"""
import pytest
import torch
import torch.nn as nn

from nasiam.head.nas_head import NASHead
from nasiam.presets import (
    LIBRARY_HEADS,
    create_head,
    get_preset,
    lightly_heads,
    list_presets,
    nasiam_paper_simsiam,
    solo_learn_heads,
)
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
        width_keeping = g.layers[0].op != "linear"   # DirectPred's predictor takes the width it gives
        head = create_head(name, g.in_dim or (g.layers[0].width if width_keeping else 256))
        assert head(torch.randn(4, head.in_dim)).shape == (4, g.out_dim)
        if not name.startswith("nasiam"):  # the paper's predictor cell ends in a searched op
            assert g.layers[-1].fixed
            space.check_genotype(g)


def test_preset_widths_can_be_overridden_and_unknown_names_are_listed():
    assert get_preset("simsiam_projector", hidden_dim=1024, out_dim=512).describe() == (
        "linear1024-batchnorm-relu > linear1024-batchnorm-relu > linear512-batchnorm_noaffine")
    with pytest.raises(KeyError, match="known: .*simsiam_projector"):
        get_preset("byol_projector")


# -- other libraries' heads at a run's dims ---------------------------------------------------
IN, HIDDEN, OUT, PRED = 64, 48, 32, 24   # small, all different: a swapped width changes a shape


def _nas_heads(genotypes):
    return {slot: NASHead(g) for slot, g in genotypes.items()}   # each genotype is tied to its input width


def test_lightly_heads_are_lightlys_modules_layer_for_layer():
    """Built from lightly's real classes at the same dims: same layers in the same order
    (Linear with/without bias, BatchNorm1d with/without affine, ReLU), same trainable
    parameters, and after copying lightly's weights the same outputs in train and eval mode."""
    heads = pytest.importorskip("lightly.models.modules.heads")
    expected = {
        "simsiam": {"projector": heads.SimSiamProjectionHead(IN, HIDDEN, OUT),
                    "predictor": heads.SimSiamPredictionHead(OUT, PRED, OUT)},
        "simclr": {"projector": heads.SimCLRProjectionHead(IN, HIDDEN, OUT)},
        "mocov2": {"projector": heads.MoCoProjectionHead(IN, HIDDEN, OUT)},
    }
    for framework, reference in expected.items():
        ours = _nas_heads(lightly_heads(framework, IN, HIDDEN, OUT, PRED))
        assert set(ours) == set(reference), framework
        for slot, ref in reference.items():
            assert type(ref).__name__ in ours[slot].genotype.meta["source"]
            torch.manual_seed(0)
            _assert_same_head(ref, ours[slot], ours[slot].in_dim)
    # the defaults this mirrors: SimCLR with BatchNorm, MoCo (v2) without; a change upstream shows here
    assert any(isinstance(m, nn.BatchNorm1d) for m in expected["simclr"]["projector"].modules())
    assert not any(isinstance(m, nn.BatchNorm1d) for m in expected["mocov2"]["projector"].modules())


def test_lightly_has_no_mocov3_heads_and_unknown_frameworks_are_named():
    with pytest.raises(ValueError, match="no MoCo v3"):
        lightly_heads("mocov3", IN, HIDDEN, OUT, PRED)
    with pytest.raises(ValueError, match="unknown framework 'byol'"):
        lightly_heads("byol", IN, HIDDEN, OUT, PRED)
    with pytest.raises(ValueError, match="unknown framework 'byol'"):
        solo_learn_heads("byol", IN, HIDDEN, OUT, PRED)
    with pytest.raises(ValueError, match="pred_hidden_dim"):
        solo_learn_heads("simsiam", IN, HIDDEN, OUT)
    assert set(LIBRARY_HEADS) == {"lightly", "solo-learn"}


# solo-learn's heads as its method classes build them, read from vturrisi/solo-learn at
# commit 9187ea39c2c3f43c455ab06664d2b019a9802954 (version 1.0.6): solo/methods/simsiam.py
# (SimSiam.projector, .predictor), simclr.py (SimCLR.projector), mocov2plus.py
# (MoCoV2Plus.projector), mocov3.py (MoCoV3._build_mlp: 2 layers for a backbone whose name
# contains "resnet", else a 3-layer projector and a predictor with last_bn). Entries:
# ("linear", in, out, bias) with bias True, False or "frozen" (a bias with
# requires_grad=False), ("bn", width, affine), ("relu",). Widths are names: in, hidden, out, pred.
_LIN, _BN, _RELU = "linear", "bn", ("relu",)
SOLO_LEARN = {
    ("simsiam", "resnet18", "projector"): [(_LIN, "in", "hidden", False), (_BN, "hidden", True), _RELU,
                                           (_LIN, "hidden", "hidden", False), (_BN, "hidden", True), _RELU,
                                           (_LIN, "hidden", "out", "frozen"), (_BN, "out", False)],
    ("simsiam", "resnet18", "predictor"): [(_LIN, "out", "pred", False), (_BN, "pred", True), _RELU,
                                           (_LIN, "pred", "out", True)],
    ("simclr", "resnet18", "projector"): [(_LIN, "in", "hidden", True), _RELU, (_LIN, "hidden", "out", True)],
    ("mocov2", "resnet18", "projector"): [(_LIN, "in", "hidden", True), _RELU, (_LIN, "hidden", "out", True)],
    ("mocov3", "resnet18", "projector"): [(_LIN, "in", "hidden", False), (_BN, "hidden", True), _RELU,
                                          (_LIN, "hidden", "out", False), (_BN, "out", False)],
    ("mocov3", "resnet18", "predictor"): [(_LIN, "out", "pred", False), (_BN, "pred", True), _RELU,
                                          (_LIN, "pred", "out", False)],
    ("mocov3", "vit_small", "projector"): [(_LIN, "in", "hidden", False), (_BN, "hidden", True), _RELU,
                                           (_LIN, "hidden", "hidden", False), (_BN, "hidden", True), _RELU,
                                           (_LIN, "hidden", "out", False), (_BN, "out", False)],
    ("mocov3", "vit_small", "predictor"): [(_LIN, "out", "pred", False), (_BN, "pred", True), _RELU,
                                           (_LIN, "pred", "out", False), (_BN, "out", False)],
}


def _solo_learn_module(table):
    dims = {"in": IN, "hidden": HIDDEN, "out": OUT, "pred": PRED}
    layers = []
    for entry in table:
        if entry[0] == _LIN:
            _, d_in, d_out, bias = entry
            linear = nn.Linear(dims[d_in], dims[d_out], bias=bias is not False)
            if bias == "frozen":
                # a constant bias before a BatchNorm: removed by its mean, so nasiam's head has
                # none; zeroed so the running statistics match from the first step
                _frozen_bias(linear)
                with torch.no_grad():
                    linear.bias.zero_()
            layers.append(linear)
        elif entry[0] == _BN:
            layers.append(nn.BatchNorm1d(dims[entry[1]], affine=entry[2]))
        else:
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def test_solo_learn_heads_match_its_source_layer_for_layer():
    """solo-learn is not installed: its heads, rebuilt from the table above, against ours."""
    for (framework, backbone, slot), table in SOLO_LEARN.items():
        ours = _nas_heads(solo_learn_heads(framework, IN, HIDDEN, OUT, PRED, backbone=backbone))
        slots = {s for (f, b, s) in SOLO_LEARN if (f, b) == (framework, backbone)}
        assert set(ours) == slots, (framework, backbone)
        torch.manual_seed(0)
        _assert_same_head(_solo_learn_module(table), ours[slot], ours[slot].in_dim)
        assert "solo-learn@9187ea39c2c3" in ours[slot].genotype.meta["source"]


def test_frozen_bias_before_batchnorm_is_the_head_without_it():
    """Why solo-learn's frozen SimSiam bias is no bias: with batch statistics the output is
    the same whatever the constant."""
    ref = _solo_learn_module(SOLO_LEARN[("simsiam", "resnet18", "projector")])
    ours = _nas_heads(solo_learn_heads("simsiam", IN, HIDDEN, OUT, PRED))["projector"]
    _copy_state_in_order(ref, ours)
    with torch.no_grad():
        ref[6].bias.normal_()
    x = torch.randn(8, IN)
    torch.testing.assert_close(ours.train()(x), ref.train()(x))
