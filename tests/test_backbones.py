import pytest
import torch
import torch.nn as nn

from nasiam.backbones import create_backbone, feature_dim


@pytest.mark.parametrize("size", [28, 32, 96, 224])
@pytest.mark.parametrize("channels", [1, 3])
def test_resnet10t_features_at_every_size_and_channel_count(size, channels):
    backbone = create_backbone("resnet10t", cifar_stem=size <= 32, in_chans=channels).eval()
    with torch.no_grad():
        out = backbone(torch.randn(2, channels, size, size))
    assert out.shape == (2, feature_dim(backbone)) == (2, 512)


@pytest.mark.parametrize("name,dim", [("resnet18", 512), ("resnet50", 2048)])
def test_resnet18_and_50_declare_their_feature_dims(name, dim):
    backbone = create_backbone(name, cifar_stem=True, in_chans=1).eval()
    with torch.no_grad():
        assert backbone(torch.randn(2, 1, 28, 28)).shape == (2, dim)
    assert feature_dim(backbone) == dim


def test_cifar_stem_is_a_3x3_stride_1_conv_without_max_pool():
    backbone = create_backbone("resnet18", cifar_stem=True)
    assert isinstance(backbone.conv1, nn.Conv2d)
    assert backbone.conv1.kernel_size == (3, 3) and backbone.conv1.stride == (1, 1)
    assert isinstance(backbone.maxpool, nn.Identity)
    # the stem keeps full resolution: a 32x32 input reaches layer4 at 4x4
    features = {}
    backbone.layer4.register_forward_hook(lambda m, i, o: features.update(shape=o.shape))
    backbone(torch.randn(1, 3, 32, 32))
    assert features["shape"][-2:] == (4, 4)


def test_zero_init_residual_zeroes_the_last_bn_of_each_block():
    def last_bns(m):
        return [b.bn2.weight for layer in (m.layer1, m.layer2, m.layer3, m.layer4) for b in layer]

    assert all(w.abs().sum() == 0 for w in last_bns(create_backbone("resnet18", zero_init_residual=True)))
    assert all(w.abs().sum() > 0 for w in last_bns(create_backbone("resnet18", zero_init_residual=False)))


def test_local_checkpoint_loads_and_bad_names_are_explained(tmp_path):
    from safetensors.torch import save_file

    source = create_backbone("resnet10t")
    path = tmp_path / "resnet10t.safetensors"
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, path)
    loaded = create_backbone("resnet10t", pretrained_path=path)
    torch.testing.assert_close(loaded.state_dict()["conv1.0.weight"], source.state_dict()["conv1.0.weight"])
    with pytest.raises(FileNotFoundError, match="never downloads"):
        create_backbone("resnet10t", pretrained_path=tmp_path / "missing.pth")
    with pytest.raises(ValueError, match="unknown backbone 'resnet1000'"):
        create_backbone("resnet1000")
    with pytest.raises(ValueError, match="ResNet-style"):
        create_backbone("vit_tiny_patch16_224", cifar_stem=True)


def test_a_backbone_of_another_run_is_refused_with_the_options_that_match_it(tmp_path):
    """#33 probe 14, K12: `pretrain --init e1 --backbone resnet18` on a resnet10t export advised
    "pass --name=resnet10t": backbone.json's field names are no options."""
    from nasiam.backbones import load_backbone, save_backbone
    from nasiam.errors import CheckpointError

    backbone = create_backbone("resnet10t", cifar_stem=True)
    save_backbone(tmp_path, backbone, {"format": "nasiam.backbone", "name": "resnet10t", "cifar_stem": True,
                                       "in_chans": 3, "feature_dim": feature_dim(backbone)})
    for expect, advice in (({"name": "resnet18"}, "pass --backbone=resnet10t or another run"),
                           ({"cifar_stem": False}, "pass --cifar_stem=True or another run"),
                           ({"in_chans": 1}, "takes images of 3 channels, the dataset's have 1 channel; choose a --dataset of 3 "
                                            "channels or another run")):
        with pytest.raises(CheckpointError, match=advice):
            load_backbone(tmp_path, expect)


@pytest.mark.parametrize("kwargs, words", [
    ({"in_chans": 0}, r"in_chans must be an integer >= 1, got 0 \(type int\)"),
    ({"in_chans": True}, r"in_chans must be an integer >= 1, got True \(type bool\)"),
    ({"num_classes": 10}, "create_backbone sets num_classes itself"),
    ({"pretrained": True}, "create_backbone sets pretrained itself"),
    ({"features_only": True}, "features_only=True returns a list of feature maps: drop that keyword"),   # L4
])
def test_create_backbone_names_arguments_it_cannot_take(kwargs, words):
    """#33 probe 14, K13 (TB3, TB4, TB7, TB9): in_chans=0 / True built a ResNet with Conv2d(0, 24)
    / Conv2d(True, 24); num_classes or pretrained as keywords were "dict() got multiple values for
    keyword argument"."""
    with pytest.raises(ValueError, match=words):
        create_backbone("resnet10t", **kwargs)
