"""The stacked soft mixing (one weighted sum over stacked branches, a leaner backward for the
activations, the masked LayerNorm's shared channel weights, one softmax per layer and step)
computes what the per-branch code before #35 computed: outputs, weight gradients, and the
logits and Adam state after architecture updates, for every space. The reference is that code,
verbatim (tests/_reference_mixed.py), patched back into the spaces.

Each test fails on a change of the maths: a wrong weight in the sum, a missing branch
derivative, statistics normalised differently, or softmax weights reused across a logit update
(the cache test)."""
import contextlib

import _reference_mixed as reference
import pytest
import torch
import torch.nn.functional as F

import nasiam.frameworks.losses as losses_module
import nasiam.space.mlp as mlp_module
import nasiam.space.nasiam_paper as paper_module
import nasiam.space.siam as siam_module
from nasiam.config import SearchConfig, load_config
from nasiam.frameworks import framework_class
from nasiam.head import SearchableHead
from nasiam.runner.build import framework_kwargs, searchable_heads
from nasiam.search import Architect
from nasiam.search.architect import Encoded
from nasiam.space import registry
from nasiam.space.mixed import masked_layer_norm, mix, mix_elementwise, weighted_sum, width_inclusion, width_mask

ACTIVATIONS = ("relu", "gelu", "silu", "hardswish", "elu", "mish", "leaky_relu", "identity")
OPTIONS = {"dataset": "synthetic", "proj_hidden_dim": "32", "proj_output_dim": "32", "pred_hidden_dim": "16"}
# (space, extra options): the default mlp space, the siam space (DirectPred's closed form among
# its predictor families), the NASiam paper's space, and mlp with DirectPred's fixed predictor
SPACES = [("mlp", {}), ("siam", {}), ("nasiam", {}), ("mlp", {"predictor": "directpred"})]


def _generator(seed=0):
    return torch.Generator().manual_seed(seed)


def test_weighted_sum_is_the_probability_weighted_sum_in_the_branches_dtype():
    probs = torch.softmax(torch.randn(5, generator=_generator()), 0)
    stacked = torch.randn(5, 3, 4, generator=_generator(1))
    torch.testing.assert_close(weighted_sum(probs, stacked), sum(p * b for p, b in zip(probs, stacked)))
    # bf16 branches with float32 probabilities stay bf16, as `probs[i] * branch` did
    assert weighted_sum(probs, stacked.bfloat16()).dtype == torch.bfloat16
    with torch.autocast("cpu", dtype=torch.bfloat16):   # element-wise there: the probabilities are not rounded
        torch.testing.assert_close(weighted_sum(probs, stacked), sum(p * b for p, b in zip(probs, stacked)))


@pytest.mark.parametrize("shapes", [[(6, 4)] * 3, [(6, 4), (1, 4), (6, 1)]], ids=["same", "broadcasting"])
def test_mix_soft_equals_the_per_branch_sum_values_and_gradients(shapes):
    inputs = [torch.randn(s, dtype=torch.double, generator=_generator(i), requires_grad=True)
              for i, s in enumerate(shapes)]
    logits = torch.randn(len(shapes), dtype=torch.double, generator=_generator(9), requires_grad=True)
    g = torch.randn(6, 4, dtype=torch.double, generator=_generator(10))
    results = []
    for fn in (mix, reference.mix):
        out = fn(F.softmax(logits, 0), lambda i: inputs[i].tanh(), False)
        results.append((out, *torch.autograd.grad(out, [logits, *inputs], g)))
    for new, old in zip(*results):
        torch.testing.assert_close(new, old, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("needs", ["both", "probs", "z", "none"])
def test_mix_elementwise_equals_todays_values_and_gradients(needs):
    fns = [registry.create_activation(a) for a in ACTIVATIONS]
    z0 = torch.randn(7, 5, dtype=torch.double, generator=_generator()) * 2
    logits0 = torch.randn(len(fns), dtype=torch.double, generator=_generator(1))
    g = torch.randn(7, 5, dtype=torch.double, generator=_generator(2))
    results = []
    for fn in (mix_elementwise, reference.mix_elementwise):
        z = z0.clone().requires_grad_(needs in ("both", "z"))
        logits = logits0.clone().requires_grad_(needs in ("both", "probs"))
        out = fn(F.softmax(logits, 0), fns, z, False)
        wrt = [t for t in (z, logits) if t.requires_grad]
        results.append((out, *(torch.autograd.grad(out, wrt, g) if wrt else ())))
    assert len(results[0]) == len(results[1])
    for new, old in zip(*results):
        torch.testing.assert_close(new, old, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("trained", [True, False], ids=["weight-step", "architecture-update"])
def test_masked_layer_norm_equals_todays_values_and_gradients(trained):
    """Frozen weights (an architecture update) take the closed-form backward, trained ones autograd's."""
    z = torch.randn(6, 8, dtype=torch.double, generator=_generator()) * 3 + 1
    probs = torch.softmax(torch.randn(3, dtype=torch.double, generator=_generator(1)), 0).requires_grad_(True)
    weight, bias = (torch.randn(8, dtype=torch.double, generator=_generator(s), requires_grad=trained) for s in (2, 3))
    g = torch.randn(6, 8, dtype=torch.double, generator=_generator(4))
    inclusion = width_inclusion((2, 5, 8), 8).double()
    results = []
    for fn in (masked_layer_norm, reference.masked_layer_norm):
        x = z.clone().requires_grad_(True)
        out = fn(x, width_mask(probs, inclusion), weight, bias, 1e-5)
        results.append((out, *torch.autograd.grad(out, [x, probs] + ([weight, bias] if trained else []), g)))
    for new, old in zip(*results):
        torch.testing.assert_close(new, old, rtol=1e-12, atol=1e-12)


def _model(space, options):
    torch.manual_seed(0)
    cfg = load_config(SearchConfig, None, {**OPTIONS, "framework": "simsiam", "space": space, **options})
    cls = framework_class("simsiam")
    model = cls(torch.nn.Linear(12, 24), 24, heads=searchable_heads(cfg, cls, 24, framework_kwargs(cfg)),
                **framework_kwargs(cfg))
    return model.double().train()


@contextlib.contextmanager
def _todays_mixing(monkeypatch):
    """The spaces mix as before #35: the per-branch code, a softmax per forward, a width mask
    and masked LayerNorm however many widths a layer has."""
    with monkeypatch.context() as patch:
        for module in (mlp_module, paper_module, siam_module):
            patch.setattr(module, "mix", reference.mix)
        patch.setattr(mlp_module, "mix_elementwise", reference.mix_elementwise)
        patch.setattr(mlp_module, "masked_layer_norm", reference.masked_layer_norm)
        # and every width through the mask, the one of the siam space's projector too
        patch.setattr(mlp_module.MLPSearchLayer, "forward", reference.mlp_layer_forward)
        # the predictor families run one by one, SimSiam's loss differentiated by autograd
        patch.setattr(siam_module.PredictorFamilyLayer, "forward", reference.predictor_family_forward)
        patch.setattr(losses_module, "negative_cosine", reference.negative_cosine)
        patch.setattr(SearchableHead, "_softmax_weights",
                      lambda self, layer: {k: F.softmax(v, dim=0) for k, v in layer.arch.items()})
        yield


def _search_steps(model):
    """A weight step's loss and gradients, then an architecture step of four updates (the
    default policy's) on cached features: the logits and the Adam state it leaves."""
    generator = _generator(5)
    batches = [Encoded(online=[torch.randn(16, 24, dtype=torch.double, generator=generator) for _ in range(2)])
               for _ in range(4)]
    architect = Architect(model, lr=3e-3)
    with architect.weights_step():
        loss = model.head_loss(batches[0])["loss"]
        loss.backward()
    grads = [p.grad.clone() for p in model.weight_parameters() if p.grad is not None]
    for encoded in batches:
        metrics = architect.step(encoded=encoded, progress=0.5)
    logits = [p.detach().clone() for p in architect.arch_params]
    state = [architect.state_dict()["exp_avg_sq"].clone()]
    return [loss.detach()] + grads + logits + state, metrics


@pytest.mark.parametrize("space,options", SPACES, ids=["mlp", "siam", "nasiam", "mlp-directpred"])
def test_a_search_step_takes_the_same_updates_as_todays_mixing(space, options, monkeypatch):
    new, new_metrics = _search_steps(_model(space, options))
    with _todays_mixing(monkeypatch):
        old, old_metrics = _search_steps(_model(space, options))
    assert len(new) == len(old) and len(new) > 6
    for a, b in zip(new, old):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
    assert new_metrics == pytest.approx(old_metrics, rel=1e-9)
    assert not torch.equal(new[-1], torch.zeros_like(new[-1]))   # the updates happened


def test_softmax_weights_are_recomputed_when_the_logits_change_inside_one_sample():
    """One softmax per layer serves a step's forwards, but an in-place update of the logits (an
    optimizer step inside `shared_sample`) or a different grad mode must not reuse it."""
    head = SearchableHead(8, 4, 1).train()
    x = torch.randn(5, 8, generator=_generator())
    with head.shared_sample():
        first = head(x)
        with torch.no_grad():
            head.layers[0].arch["activation"][0] += 3.0
        moved = head(x)
        with torch.no_grad():
            no_grad = head(x)
    assert not torch.allclose(first, moved)
    torch.testing.assert_close(moved, head(x))
    assert moved.grad_fn is not None and no_grad.grad_fn is None


def test_the_masked_normalisations_closed_form_backward_is_autograds():
    """The hand-written backward against autograd's own (torch.autograd.gradcheck: numerical
    differences in float64)."""
    from nasiam.space.mixed import _MaskedNormalize

    z = torch.randn(5, 7, dtype=torch.double, generator=_generator(), requires_grad=True)
    share = torch.softmax(torch.randn(7, dtype=torch.double, generator=_generator(1)), 0).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: _MaskedNormalize.apply(a, b, 1e-5), (z, share))


def test_the_state_dict_keys_are_todays():
    """Checkpoints of earlier runs load: the stacked mixing changed the arithmetic, not the
    modules (keys listed from the code before #35)."""
    assert sorted(SearchableHead(8, 4, 1).state_dict()) == [
        "layers.0.arch.activation", "layers.0.arch.keep", "layers.0.arch.norm", "layers.0.arch.width",
        "layers.0.linear.bias", "layers.0.linear.weight", "layers.0.norms.batchnorm.bias",
        "layers.0.norms.batchnorm.num_batches_tracked", "layers.0.norms.batchnorm.running_mean",
        "layers.0.norms.batchnorm.running_var", "layers.0.norms.batchnorm.weight", "layers.0.norms.layernorm.bias",
        "layers.0.norms.layernorm.weight", "layers.1.block.linear.bias", "layers.1.block.linear.weight"]
