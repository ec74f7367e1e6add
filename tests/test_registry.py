import pytest
import torch
import torch.nn as nn

from nasiam.space import registry
from nasiam.space.mlp import DEFAULT_ACTIVATIONS, DEFAULT_NORMS


@pytest.mark.parametrize("name", DEFAULT_ACTIVATIONS)
def test_every_builtin_activation_matches_its_torch_function(name):
    reference = {
        "relu": torch.relu, "gelu": nn.functional.gelu, "silu": nn.functional.silu,
        "hardswish": nn.functional.hardswish, "elu": nn.functional.elu, "mish": nn.functional.mish,
        "leaky_relu": nn.functional.leaky_relu, "identity": lambda t: t,
    }[name]
    x = torch.linspace(-4, 4, 101).reshape(1, -1)
    module = registry.create_activation(name)
    assert not list(module.parameters())
    torch.testing.assert_close(module(x), reference(x))


@pytest.mark.parametrize("name", list(DEFAULT_NORMS) + ["batchnorm_noaffine"])
def test_every_builtin_norm_normalises_as_named(name):
    x = torch.randn(64, 16) * 3 + 5
    y = registry.create_norm(name, 16).train()(x)
    if name == "none":
        torch.testing.assert_close(y, x)
    elif name.startswith("batchnorm"):
        torch.testing.assert_close(y.mean(0), torch.zeros(16), atol=1e-5, rtol=0)
        assert registry.get_norm(name).per_channel
    else:
        torch.testing.assert_close(y.mean(1), torch.zeros(64), atol=1e-5, rtol=0)
        assert not registry.get_norm(name).per_channel
    affine = sum(p.numel() for p in registry.create_norm(name, 16).parameters())
    assert affine == {"batchnorm": 32, "layernorm": 32, "none": 0, "batchnorm_noaffine": 0}[name]


def test_register_activation_by_call_and_by_decorator():
    registry.register_activation("test_softsign", nn.Softsign)

    @registry.register_activation("test_square")
    class Square(nn.Module):
        def forward(self, x):
            return x * x

    try:
        assert isinstance(registry.create_activation("test_softsign"), nn.Softsign)
        assert registry.create_activation("test_square")(torch.tensor([3.0])).item() == 9.0
        assert "test_square" in registry.list_activations()
    finally:
        registry._ACTIVATIONS.pop("test_softsign")
        registry._ACTIVATIONS.pop("test_square")


def test_registration_rejects_bad_names_duplicates_and_parameters():
    with pytest.raises(ValueError, match="invalid"):
        registry.register_activation("Bad Name", nn.ReLU)
    with pytest.raises(ValueError, match="already registered"):
        registry.register_activation("relu", nn.ReLU)
    with pytest.raises(ValueError, match="parameter-free"):
        registry.register_activation("test_prelu", nn.PReLU)
    with pytest.raises(TypeError, match="nn.Module"):
        registry.register_activation("test_fn", lambda: torch.relu)
    assert "test_prelu" not in registry.list_activations()


def test_register_norm_and_unknown_lookups_name_the_fix():
    registry.register_norm("test_scale", lambda w: nn.BatchNorm1d(w, affine=True, track_running_stats=False))
    try:
        assert registry.create_norm("test_scale", 8)(torch.randn(4, 8)).shape == (4, 8)
    finally:
        registry._NORMS.pop("test_scale")
    with pytest.raises(KeyError, match="register_activation"):
        registry.create_activation("swishy")
    with pytest.raises(KeyError, match="known: .*batchnorm"):
        registry.create_norm("groupnorm", 8)


def test_in_place_activations_are_refused():
    with pytest.raises(ValueError, match="works in place"):
        registry.register_activation("test_relu_inplace", lambda: nn.ReLU(inplace=True))
    assert "test_relu_inplace" not in registry.list_activations()
