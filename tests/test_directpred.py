"""DirectPred's closed-form predictor: the formula, the running estimate, when it updates, what it
saves, and its place in genotypes, presets and `nasiam compare`."""
import math

import numpy as np
import pytest
import torch
from _runs import TINY

from nasiam.compare import prepare
from nasiam.frameworks import SimSiam
from nasiam.head import DirectPredLinear, NASHead
from nasiam.presets import create_head, get_preset
from nasiam.rundir import read_genotypes
from nasiam.space.genotype import MAX_WIDTH, Genotype, GenotypeError, LayerSpec

RUN = {k.split("=")[0].lstrip("-"): k.split("=")[1] for k in TINY
       if not k.startswith(("--widths", "--warmup_epochs", "--arch_lr"))}


def _features(n=64, dim=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    scales = torch.linspace(0.1, 2.0, dim)   # distinct variances: a well-separated spectrum
    return torch.randn(n, dim, generator=g) * scales


def _expected_weight(correlation: np.ndarray, eps: float) -> np.ndarray:
    """The paper's formula, computed independently in float64 numpy."""
    s, u = np.linalg.eigh(correlation.astype(np.float64))
    s = np.clip(s, 0, None)
    p = np.sqrt(s / s.max()) + eps
    return u @ np.diag(p) @ u.T


def test_weight_is_the_closed_form_of_the_running_correlation():
    layer = DirectPredLinear(8, rho=0.25, eps=0.05).train()
    a, b = _features(seed=1), _features(seed=2)
    with torch.enable_grad():
        layer(a)
        layer(b)
    second = lambda f: (f.T @ f / f.shape[0]).numpy()  # noqa: E731
    expected_corr = 0.25 * second(a) + 0.75 * second(b)      # the first update copies, the next ones average
    np.testing.assert_allclose(layer.correlation.numpy(), expected_corr, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.weight.numpy(), _expected_weight(expected_corr, 0.05), rtol=1e-4, atol=1e-5)
    assert int(layer.updates) == 2
    # the largest direction maps with 1 + eps, and the output is x W
    assert float(torch.linalg.eigvalsh(layer.weight).max()) == pytest.approx(1.05, abs=1e-4)
    x = _features(seed=3)
    layer.eval()
    torch.testing.assert_close(layer(x), x @ layer.weight)


def test_default_rho_keeps_the_authors_decay_per_two_view_step():
    assert DirectPredLinear(4).rho ** 2 == pytest.approx(0.3)


def test_no_update_in_eval_mode_or_without_grad_and_no_parameters_to_train():
    layer = DirectPredLinear(8)
    assert list(layer.parameters()) == []
    layer.eval()
    layer(_features())
    layer.train()
    with torch.no_grad():
        layer(_features())
    assert int(layer.updates) == 0 and torch.equal(layer.weight, torch.eye(8))


def test_gradients_flow_through_to_the_input_across_two_views():
    """Both views' outputs backpropagate although the second forward replaced W."""
    layer = DirectPredLinear(8).train()
    x1, x2 = _features(seed=4).requires_grad_(), _features(seed=5).requires_grad_()
    w_before = layer.weight
    out1 = layer(x1)
    w_mid = layer.weight
    out2 = layer(x2)
    (out1.sum() + out2.sum()).backward()
    torch.testing.assert_close(x1.grad, torch.ones(64, 8) @ w_before.T)
    torch.testing.assert_close(x2.grad, torch.ones(64, 8) @ w_mid.T)


def test_every_recomputes_on_schedule_and_survives_a_save_and_load(tmp_path):
    head = create_head("directpred_predictor", in_dim=8, out_dim=8).train()
    layer = head[0].directpred
    layer.every = 2
    head(_features(seed=6))
    assert torch.equal(layer.weight, torch.eye(8))             # 1 update: not due yet
    head(_features(seed=7))
    assert not torch.equal(layer.weight, torch.eye(8))         # 2 updates: recomputed
    head.save_pretrained(tmp_path / "h")
    loaded = NASHead.from_pretrained(tmp_path / "h")
    again = loaded[0].directpred
    for name in ("weight", "correlation", "updates"):
        assert torch.equal(getattr(again, name), getattr(layer, name))
    # the loaded counter carries on: the two heads stay identical through more training
    again.every = 2
    loaded.train()
    for seed in (8, 9, 10):
        head(_features(seed=seed))
        loaded(_features(seed=seed))
    assert int(again.updates) == 5
    torch.testing.assert_close(again.weight, layer.weight)


def test_loading_a_state_into_a_trained_layer_resumes_its_counter():
    layer = DirectPredLinear(8, every=2).train()
    for seed in range(3):
        layer(_features(seed=seed))
    snapshot = {k: v.clone() for k, v in layer.state_dict().items()}
    for seed in (3, 4):
        layer(_features(seed=seed))
    layer.load_state_dict(snapshot)          # back to 3 updates
    layer(_features(seed=5))
    assert int(layer.updates) == 4           # counted on from the loaded state, not from 5
    assert not torch.equal(layer.weight, snapshot["weight"])   # the 4th update recomputed W (every=2)


def test_non_finite_features_do_not_break_the_eigendecomposition():
    layer = DirectPredLinear(4).train()
    x = torch.randn(16, 4)
    x[0, 0] = float("nan")
    out = layer(x)   # the loss turns NaN (the training loop's exit 4), not a LinAlgError here
    assert torch.isnan(out).any() and torch.isfinite(layer.weight).all()


def test_bad_hyperparameters_are_refused():
    for kwargs, words in (({"rho": 1.0}, "rho"), ({"eps": -0.1}, "eps"), ({"every": 0}, "every")):
        with pytest.raises(ValueError, match=words):
            DirectPredLinear(4, **kwargs)


def test_genotype_keeps_the_width_counts_the_matrices_and_resizes():
    g = get_preset("directpred_predictor", out_dim=16)
    assert g.layers[0].op == "directpred" and g.num_parameters(16) == 0
    assert Genotype.from_json(g.to_json()) == g
    with pytest.raises(GenotypeError, match="keeps the width"):
        g.validate(32)
    # two 40,000-wide matrices are 3.2e9 values: refused before anything is allocated
    wide = Genotype(layers=(LayerSpec(op="directpred", width=40_000),))
    assert 40_000 <= MAX_WIDTH
    with pytest.raises(GenotypeError, match="parameters exceed the limit"):
        wide.validate(40_000)
    with pytest.raises(GenotypeError, match="bias"):
        LayerSpec(op="directpred", width=4, bias=True)
    resized = g.with_in_dim(16).for_dims(in_dim=24, out_dim=24)
    assert [layer.width for layer in resized.layers] == [24]
    with pytest.raises(GenotypeError, match="no Linear layer to carry another width"):
        g.with_in_dim(16).for_dims(in_dim=24, out_dim=12)
    head = NASHead(g, 16).double()   # no parameters: the resized head takes its dtype from the buffers
    resized_head = head.resized(24, 24)
    assert resized_head[0].directpred.dim == 24 and resized_head[0].directpred.weight.dtype == torch.float64


def test_simsiam_trains_with_the_closed_form_predictor():
    torch.manual_seed(0)
    model = SimSiam(torch.nn.Flatten(), 12, heads={"predictor": get_preset("directpred_predictor", out_dim=16)},
                    proj_hidden_dim=16, proj_output_dim=16, proj_layers=2)
    predictor = model.predictor[0].directpred
    assert not any(p is q for p in model.parameters() for q in [predictor.weight])
    opt = torch.optim.SGD(model.weight_parameters(), lr=0.05)
    for _ in range(3):
        loss = model([torch.randn(32, 12), torch.randn(32, 12)])["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert math.isfinite(loss.item()) and int(predictor.updates) == 6   # one update per view
    assert not torch.equal(predictor.weight, torch.eye(16))


def test_compare_rows_directpred_and_linpred_write_their_predictors(tmp_path):
    plan, out = prepare("default,directpred,linpred", 1, tmp_path, {**RUN, "proj_output_dim": "24"})
    ops = {}
    for kind in ("directpred", "linpred"):
        framework, genotypes = read_genotypes(out / "heads" / kind / "genotype.json")
        assert framework == "simsiam" and set(genotypes) == {"predictor"}
        ops[kind] = [(layer.op, layer.width) for layer in genotypes["predictor"].layers]
    assert ops == {"directpred": [("directpred", 24)], "linpred": [("linear", 24)]}
    assert [s.kind for s in plan.rows] == ["default", "directpred", "linpred"]


@pytest.mark.slow
def test_compiled_predictor_matches_eager_and_backpropagates_through_both_views():
    """A compiled graph saves the W buffer itself for the backward: the update must not write
    into it (it would fail autograd's version check), and must not recompile every step."""
    import torch._dynamo

    torch.manual_seed(0)
    torch._dynamo.reset()   # NASHead.forward's compiled code is shared by every head: start and leave clean
    try:
        eager = create_head("directpred_predictor", in_dim=16, out_dim=16).train()
        compiled_head = create_head("directpred_predictor", in_dim=16, out_dim=16).train()
        compiled = torch.compile(compiled_head)
        for _step in range(3):
            # both views need gradients, as the projector's outputs do in training
            x1, x2 = torch.randn(8, 16, requires_grad=True), torch.randn(8, 16, requires_grad=True)
            a = eager(x1).sum() + eager(x2).sum()
            b = compiled(x1).sum() + compiled(x2).sum()
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
            b.backward()
        torch.testing.assert_close(compiled_head[0].directpred.weight, eager[0].directpred.weight, rtol=1e-5,
                                   atol=1e-5)
    finally:
        torch._dynamo.reset()
