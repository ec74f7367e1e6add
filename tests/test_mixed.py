import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from nasiam.space import registry
from nasiam.space.mixed import masked_layer_norm, mix, mix_elementwise, pad_features, width_inclusion, width_mask


def test_width_mask_is_probability_that_channel_exists():
    inclusion = width_inclusion((2, 4, 6), 6)
    probs = torch.tensor([0.5, 0.3, 0.2])
    torch.testing.assert_close(width_mask(probs, inclusion), torch.tensor([1.0, 1.0, 0.5, 0.5, 0.2, 0.2]))


def test_width_mask_gradient_sees_the_channels_an_option_adds():
    inclusion = width_inclusion((1, 3), 3)
    probs = torch.tensor([0.4, 0.6], requires_grad=True)
    y = torch.tensor([[1.0, 2.0, 3.0]])
    (y * width_mask(probs, inclusion)).sum().backward()
    # option 0 keeps channel 0 only, option 1 keeps all three
    torch.testing.assert_close(probs.grad, torch.tensor([1.0, 6.0]))


def test_masked_layer_norm_one_hot_equals_layer_norm_of_the_prefix():
    z = torch.randn(5, 8) * 2 + 1
    ln = nn.LayerNorm(8)
    nn.init.normal_(ln.weight)
    nn.init.normal_(ln.bias)
    widths = (2, 5, 8)
    for k, w in enumerate(widths):
        mask = width_mask(F.one_hot(torch.tensor(k), 3).float(), width_inclusion(widths, 8))
        expected = F.layer_norm(z[:, :w], (w,), ln.weight[:w], ln.bias[:w], ln.eps)
        for hard_width in (None, w):
            out = masked_layer_norm(z, mask, ln.weight, ln.bias, ln.eps, hard_width)
            torch.testing.assert_close(out[:, :w], expected)


def test_masked_layer_norm_weights_statistics_by_the_mask_and_passes_gradient_to_it():
    z = torch.randn(3, 4, dtype=torch.double, generator=torch.Generator().manual_seed(0))
    probs = torch.tensor([0.25, 0.75], dtype=torch.double, requires_grad=True)
    mask = width_mask(probs, width_inclusion((2, 4), 4).double())  # [1, 1, .75, .75]
    one, zero = torch.ones(4, dtype=torch.double), torch.zeros(4, dtype=torch.double)
    out = masked_layer_norm(z, mask, one, zero, 0.0)
    m = torch.tensor([1, 1, 0.75, 0.75], dtype=torch.double)
    mean = (z * m).sum(1, keepdim=True) / m.sum()
    var = ((z - mean) ** 2 * m).sum(1, keepdim=True) / m.sum()
    torch.testing.assert_close(out, (z - mean) / var.sqrt(), rtol=1e-12, atol=1e-12)   # float64 kept throughout
    out[:, 0].sum().backward()
    assert probs.grad.abs().sum() > 0


def test_mix_hard_evaluates_only_the_selected_branch_and_keeps_its_gradient():
    calls = []

    def branch(i):
        calls.append(i)
        return torch.full((2,), float(i + 1))

    logits = torch.zeros(3, requires_grad=True)
    probs = F.gumbel_softmax(logits, hard=True)
    out = mix(probs, branch, hard=True)
    assert calls == [int(probs.argmax())]
    out.sum().backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


def test_mix_soft_is_weighted_sum():
    probs = torch.tensor([0.2, 0.8])
    out = mix(probs, lambda i: torch.tensor([10.0, 20.0])[i].expand(3), hard=False)
    torch.testing.assert_close(out, torch.full((3,), 18.0))


def test_mix_elementwise_matches_autograd_reference_values_and_gradients():
    fns = [registry.create_activation(a) for a in ("relu", "gelu", "silu", "elu", "mish", "identity")]
    z = torch.randn(7, 5, dtype=torch.double, requires_grad=True)
    logits = torch.randn(len(fns), dtype=torch.double, requires_grad=True)
    g = torch.randn(7, 5, dtype=torch.double)

    out = mix_elementwise(F.softmax(logits, 0), fns, z, hard=False)
    gz, gl = torch.autograd.grad(out, (z, logits), g)

    reference = sum(p * f(z) for p, f in zip(F.softmax(logits, 0), fns))
    rz, rl = torch.autograd.grad(reference, (z, logits), g)
    torch.testing.assert_close(out, reference)
    torch.testing.assert_close(gz, rz)
    torch.testing.assert_close(gl, rl)


def test_pad_features():
    x = torch.ones(2, 3)
    assert pad_features(x, 3) is x
    torch.testing.assert_close(pad_features(x, 5), torch.tensor([[1.0, 1, 1, 0, 0]] * 2))


def test_mix_elementwise_supports_a_second_backward():
    fns = [registry.create_activation(a) for a in ("relu", "gelu", "identity")]
    z = torch.randn(4, 3, requires_grad=True)
    probs = F.softmax(torch.zeros(3, requires_grad=True), 0)
    out = mix_elementwise(probs, fns, z, hard=False).sum()
    first = torch.autograd.grad(out, z, retain_graph=True)[0]
    second = torch.autograd.grad(out, z)[0]
    torch.testing.assert_close(first, second)


def test_width_mask_and_masked_statistics_stay_float32_under_autocast():
    """Autocast runs matmuls in bf16/fp16: the probabilities and the LayerNorm statistics
    would be rounded (and fp16 overflows on squares above 65504), so they opt out."""
    inclusion = width_inclusion((2, 5, 8), 8)
    probs = torch.tensor([0.2, 0.3, 0.5])
    z = torch.randn(6, 8) * 3 + 1
    ln = nn.LayerNorm(8)
    plain_mask = width_mask(probs, inclusion)
    plain = masked_layer_norm(z, plain_mask, ln.weight, ln.bias, ln.eps)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mask = width_mask(probs, inclusion)
        out = masked_layer_norm(z, mask, ln.weight, ln.bias, ln.eps)
    assert mask.dtype == torch.float32
    torch.testing.assert_close(mask, plain_mask)
    torch.testing.assert_close(out, plain, atol=1e-5, rtol=1e-5)


def test_a_head_cast_to_bf16_runs_outside_autocast_and_on_the_meta_device():
    """The float32 statistics are for autocast: a head cast to bf16 (Lightning's bf16-true)
    keeps bf16 throughout, and "meta" (shape inference, deferred init) has no autocast at all."""
    from nasiam import SearchableHead

    head = SearchableHead(16, 8, 2).to(torch.bfloat16)
    for mode in ("softmax", "argmax"):
        assert head.set_sampling(mode)(torch.randn(4, 16, dtype=torch.bfloat16)).dtype == torch.bfloat16
    with torch.device("meta"):
        assert SearchableHead(16, 8, 2)(torch.randn(4, 16)).shape == (4, 8)


def test_mix_refuses_a_whole_layers_selection_with_a_clear_error():
    with pytest.raises(TypeError, match="hard\\[choice\\]"):
        mix(torch.tensor([0.0, 1.0]), lambda i: torch.ones(2), {"norm": 1})
