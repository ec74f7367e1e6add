import copy

import pytest
import torch
import torch.nn as nn

from nasiam import NASHead
from nasiam.frameworks import MoCoV2, MoCoV3, SimCLR, SimSiam, SSLFramework, create_framework
from nasiam.presets import get_preset
from nasiam.space import MLPSpace

DIMS = {
    "simsiam": dict(proj_hidden_dim=32, proj_output_dim=16, pred_hidden_dim=8),
    "simclr": dict(proj_hidden_dim=32, proj_output_dim=16),
    "mocov2": dict(proj_hidden_dim=32, proj_output_dim=16, queue_size=48),
    "mocov3": dict(proj_hidden_dim=32, proj_output_dim=16, pred_hidden_dim=32),
}
SPACE = MLPSpace(widths=(16, 32), activations=("relu", "gelu", "identity"))


def _backbone():
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 24), nn.BatchNorm1d(24), nn.ReLU())


def _views(n=16):
    return [torch.randn(n, 3, 8, 8) for _ in range(2)]


@pytest.mark.parametrize("name", list(DIMS))
@pytest.mark.parametrize("heads", ["default", "search"])
def test_every_framework_computes_a_loss_and_gradients(name, heads):
    model = create_framework(name, _backbone(), 24, heads=heads, space=SPACE, **DIMS[name])
    out = model(_views())
    assert out["loss"].dim() == 0 and torch.isfinite(out["loss"])
    assert out["z"].shape == (16, 16) and not out["z"].requires_grad
    out["loss"].backward()
    assert all(p.grad is not None for p in model.weight_parameters() if p.requires_grad and p.dim() > 1)
    assert (len(model.arch_parameters()) > 0) == (heads == "search")


def test_head_slots_accept_modules_genotypes_presets_and_check_dims():
    g = get_preset("simsiam_predictor", hidden_dim=4, out_dim=16)
    model = SimSiam(_backbone(), 24, heads={"projector": nn.Linear(24, 16), "predictor": g}, **DIMS["simsiam"])
    assert isinstance(model.predictor, NASHead) and model.predictor.in_dim == 16
    assert isinstance(model.projector, nn.Linear)
    with pytest.raises(ValueError, match="simsiam.projector: the head outputs 12 features, the slot needs 16"):
        SimSiam(_backbone(), 24, heads={"projector": nn.Linear(24, 12)}, **DIMS["simsiam"])
    with pytest.raises(ValueError, match="does not accept 24 input features"):
        SimSiam(_backbone(), 24, heads={"projector": nn.Linear(20, 16)}, **DIMS["simsiam"])
    with pytest.raises(ValueError, match="the genotype outputs 2048 features"):
        SimSiam(_backbone(), 24, heads={"predictor": get_preset("simsiam_predictor")}, **DIMS["simsiam"])
    with pytest.raises(ValueError, match="head slots"):
        SimCLR(_backbone(), 24, heads={"predictor": "default"})
    with pytest.raises(KeyError, match="unknown framework"):
        create_framework("byol", _backbone(), 24)


def test_searched_heads_follow_the_framework_conventions():
    model = MoCoV3(_backbone(), 24, heads="search", space=SPACE, **DIMS["mocov3"])
    projector, predictor = model.projector, model.predictor
    assert projector.layers[-1].spec.norm == "batchnorm_noaffine" and len(projector.searchable_layers()) == 1
    assert predictor.layers[-1].spec.norm == "none" and predictor.layers[-1].spec.bias is False
    genotypes = model.genotypes()
    assert set(genotypes) == {"projector", "predictor"} and genotypes["projector"].meta["framework"] == "mocov3"
    exported = model.export_heads()
    assert exported["projector"].out_dim == 16


def test_moco_queue_enqueues_with_wraparound():
    model = MoCoV2(_backbone(), 24, **DIMS["mocov2"])  # queue of 48
    keys = torch.arange(40 * 16, dtype=torch.float).reshape(40, 16)
    model.enqueue(keys)
    torch.testing.assert_close(model.queue[:40], keys)
    assert int(model.queue_ptr) == 40
    more = -torch.ones(16, 16)
    model.enqueue(more)  # 8 at the end, 8 wrapped to the front
    torch.testing.assert_close(model.queue[40:], more[:8])
    torch.testing.assert_close(model.queue[:8], more[8:])
    torch.testing.assert_close(model.queue[8:40], keys[8:])
    assert int(model.queue_ptr) == 8


def test_moco_forward_updates_queue_but_arch_steps_do_not():
    model = MoCoV2(_backbone(), 24, **DIMS["mocov2"])
    before = model.queue.clone()
    model.head_loss(model.encode(_views()), update_state=False)
    torch.testing.assert_close(model.queue, before)
    model(_views())
    assert int(model.queue_ptr) == 32 and not torch.equal(model.queue, before)


def test_momentum_update_is_an_ema_of_weights_and_ties_architecture():
    model = MoCoV2(_backbone(), 24, heads="search", space=SPACE, **DIMS["mocov2"])
    online = dict(model.projector.named_parameters())
    with torch.no_grad():
        for p in model.backbone.parameters():
            p.add_(1.0)
        for p in model.projector.parameters():
            p.add_(1.0)
    old_target = copy.deepcopy(dict(model.momentum_backbone.named_parameters()))
    model.update_momentum(0.9)
    for name, p in model.momentum_backbone.named_parameters():
        torch.testing.assert_close(p, 0.9 * old_target[name] + 0.1 * dict(model.backbone.named_parameters())[name])
    for name, p in model.momentum_projector.named_parameters():
        if ".arch." in f".{name}":
            torch.testing.assert_close(p, online[name])  # tied, not averaged
        assert not p.requires_grad
    assert all(not p.requires_grad for p in model.momentum_backbone.parameters())
    assert len(model.arch_parameters()) == 4  # the momentum copy's logits are not trained


@pytest.mark.parametrize("mode", ["gumbel", "uniform"])
def test_momentum_target_follows_the_online_heads_sampled_path(mode, monkeypatch):
    model = MoCoV3(_backbone(), 24, heads="search", space=SPACE, **DIMS["mocov3"])
    model.set_sampling(mode, tau=2.0)
    seen = {}
    original = model.momentum_projector.forward

    def spy(x):
        seen["target"] = model.momentum_projector.fixed_decisions
        seen["online"] = model.projector.current_decisions()
        return original(x)

    monkeypatch.setattr(model.momentum_projector, "forward", spy)
    model(_views())
    assert model.momentum_projector.sampling == "fixed" and seen["target"] == seen["online"]
    model.set_sampling("softmax")
    model(_views())
    assert model.momentum_projector.sampling == "softmax"


@pytest.mark.parametrize("mode", ["gumbel", "uniform"])
def test_one_sample_per_step_serves_both_views(mode):
    model = SimSiam(_backbone(), 24, heads="search", space=SPACE, **DIMS["simsiam"])
    model.set_sampling(mode)
    samples = []
    layer = model.projector.searchable_layers()[0]
    layer.register_forward_pre_hook(lambda m, args: samples.append({k: int(w.argmax()) for k, w in args[1].items()}))
    for _ in range(6):
        model(_views())
    per_step = [samples[i:i + 2] for i in range(0, len(samples), 2)]
    assert all(a == b for a, b in per_step)  # the two views share the step's path
    assert len({str(a) for a, _ in per_step}) > 1  # and paths change between steps


def test_a_method_writes_only_its_tensor_work_and_runs_inside_the_head_context():
    """`SSLFramework.head_loss` runs a method's `_head_loss` inside `head_context`, one sample
    for both views; each method wrote that wrapper itself before, and one defining only
    `_head_loss` could not be built (head_loss was abstract)."""

    class OnlyTensorWork(SSLFramework):
        name = "only_tensor_work"

        @classmethod
        def head_slots(cls, feature_dim: int, proj_hidden_dim: int = 32, proj_output_dim: int = 16):
            return SimCLR.head_slots(feature_dim, proj_hidden_dim, proj_output_dim)

        def _head_loss(self, encoded, update_state):
            z1, z2 = (self.projector(f) for f in encoded.online[:2])
            seen.append(self.projector.current_decisions())
            return {"loss": (z1 - z2).pow(2).mean(), "z": z1.detach()}

    seen = []
    model = OnlyTensorWork(_backbone(), 24, heads="search", space=SPACE)
    model.set_sampling("uniform")
    out = model(_views())
    assert torch.isfinite(out["loss"]) and seen[0] is not None   # a shared sample was in use


def test_architecture_step_does_not_backpropagate_through_the_backbone():
    model = SimSiam(_backbone(), 24, heads="search", space=SPACE, **DIMS["simsiam"])
    with torch.no_grad():
        encoded = model.encode(_views())
    model.head_loss(encoded)["loss"].backward()
    assert all(p.grad is None for p in model.backbone.parameters())
    assert all(p.grad is not None for p in model.arch_parameters())


def test_fewer_than_two_views_is_an_error():
    with pytest.raises(ValueError, match="two views"):
        SimCLR(_backbone(), 24)([torch.randn(2, 3, 8, 8)])


@pytest.mark.parametrize("name", list(DIMS))
def test_more_than_two_views_are_refused_not_dropped(name):
    """Views beyond the second ran through the backbone, moved its BatchNorm statistics and were
    left out of the loss, which equalled the two-view loss to the last digit (#33 probe 15, L3)."""
    model = create_framework(name, _backbone(), 24, **DIMS[name])
    running = [b.running_mean.clone() for b in model.modules() if isinstance(b, torch.nn.BatchNorm2d)]
    with pytest.raises(ValueError, match=rf"{name} trains on two views per image, got 3: .*pass \[view1, view2\]"):
        model([torch.randn(4, 3, 8, 8) for _ in range(3)])
    after = [b.running_mean for b in model.modules() if isinstance(b, torch.nn.BatchNorm2d)]
    assert all(torch.equal(a, b) for a, b in zip(running, after))   # refused before the backbone ran
    # the architecture step and the Lightning callback start from `encode` (#33 probe 16, M6)
    with pytest.raises(ValueError, match=rf"{name} trains on two views per image, got 3"):
        model.encode([torch.randn(4, 3, 8, 8) for _ in range(3)])
    with pytest.raises(ValueError, match=rf"{name} takes a list of views"):
        model.encode(torch.randn(4, 3, 8, 8))


@pytest.mark.parametrize("name", list(DIMS))
def test_views_that_are_no_list_of_one_batch_size_are_named(name):
    """#33 probe 14, K11 (FW2, FW9): views of 4 and 3 images gave a raw "The size of tensor a (4)
    must match ..." (MoCo v3: `IndexError: Target 3 is out of bounds.`), and a (B, C, H, W)
    tensor was iterated as B views (a raw matmul shape error)."""
    model = create_framework(name, _backbone(), 24, **DIMS[name])
    with pytest.raises(ValueError, match=rf"{name}'s views are of different batch sizes \[4, 3\]"):
        model([torch.randn(4, 3, 8, 8), torch.randn(3, 3, 8, 8)])
    with pytest.raises(ValueError, match=rf"{name} takes a list of views .*got Tensor of shape \[4, 3, 8, 8\]"):
        model(torch.randn(4, 3, 8, 8))
    with pytest.raises(ValueError, match=rf"{name}'s views must be tensors, got NoneType"):
        model([torch.randn(4, 3, 8, 8), None])


def test_a_backbone_that_is_no_module_is_refused_at_construction():
    """#33 probe 14, K11 (FW13): `create_framework("simsiam", None, 32)` was accepted and failed
    at the first forward with "'NoneType' object is not callable"."""
    with pytest.raises(ValueError, match=r"backbone must be an nn.Module mapping images to .*got None"):
        create_framework("simsiam", None, 24, **DIMS["simsiam"])
