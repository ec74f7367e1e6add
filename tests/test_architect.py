import pytest
import torch
import torch.nn as nn
from _host_reads import HostReads

from nasiam import SearchableHead
from nasiam.frameworks.base import Encoded
from nasiam.search import (
    Architect,
    ArchitectureOptimizer,
    CollapseMonitor,
    beta_decay,
    effective_rank,
    gumbel_tau,
    momentum_schedule,
    normalized_std,
    warmup_cosine_lr,
)
from nasiam.space import MLPSpace


class Toy(nn.Module):
    """The smallest model the Architect drives: one searchable head, a regression loss."""

    def __init__(self, dtype=torch.float32, loss_scale=1.0):
        super().__init__()
        space = MLPSpace(widths=(2, 4), norms=("none", "layernorm"), activations=("relu",))
        self.head = SearchableHead(4, 3, 1, space).to(dtype)
        self.target = torch.randn(8, 3, dtype=dtype)
        self.loss_scale = loss_scale

    def searchable_heads(self):
        return {"projector": self.head}

    def arch_parameters(self):
        return list(self.head.arch_parameters())

    def encode(self, views):
        return Encoded(online=list(views))

    def head_loss(self, encoded, update_state=True):
        return {"loss": self.loss_scale * (self.head(encoded.online[0]) - self.target).pow(2).mean()}


@pytest.mark.parametrize("loss_scaling", [False, True])
def test_second_order_matches_the_exact_unrolled_hypergradient(loss_scaling):
    # with fp16 loss scaling each of its gradients is scaled and unscaled (exactly, in float64)
    torch.manual_seed(0)
    model = Toy(torch.float64)
    for p in model.arch_parameters():
        nn.init.normal_(p)
    xi = 0.1
    architect = Architect(model, order=2, unroll_lr=xi, loss_scaling=loss_scaling)
    train = Encoded([torch.randn(8, 4, dtype=torch.float64)])
    val = Encoded([torch.randn(8, 4, dtype=torch.float64)])

    weights, alphas = architect.head_weights, architect.arch_params
    grads = torch.autograd.grad(model.head_loss(train)["loss"], weights, create_graph=True)
    originals = [w.detach().clone() for w in weights]
    # L_val(w - xi * grad_w L_train(w, alpha), alpha), differentiated through the unrolled step
    functional = torch.func.functional_call
    names = [n for n, p in model.head.named_parameters() if p.requires_grad and ".arch." not in f".{n}"]
    unrolled = {n: w - xi * g for n, w, g in zip(names, weights, grads)}
    out = functional(model.head, unrolled, (val.online[0],))
    exact = torch.autograd.grad((out - model.target).pow(2).mean(), alphas, allow_unused=True)
    exact = [torch.zeros_like(a) if e is None else e for a, e in zip(alphas, exact)]  # one-option choices

    for p in alphas:
        p.grad = None
    architect._second_order_backward(val, train)
    for p, e in zip(alphas, exact):
        torch.testing.assert_close(p.grad, e, rtol=2e-3, atol=1e-6)
    for w, o in zip(weights, originals):
        torch.testing.assert_close(w, o)  # the virtual steps were undone


def test_update_ignores_uniform_shifts_of_a_choices_gradient():
    torch.manual_seed(0)
    results = []
    for shift in (0.0, 5.0):
        torch.manual_seed(1)
        model = Toy()
        architect = Architect(model, lr=0.1, beta_weight=0.0)
        views = [torch.randn(8, 4)]
        base_loss = model.head_loss

        def shifted_loss(enc, update_state=True, base_loss=base_loss, model=model, shift=shift):
            return {"loss": base_loss(enc)["loss"] + shift * sum(p.sum() for p in model.arch_parameters())}

        model.head_loss = shifted_loss
        architect.step(views)
        results.append([p.detach().clone() for p in model.arch_parameters()])
    for a, b in zip(*results):
        torch.testing.assert_close(a, b)


def test_a_weak_consistent_signal_wins_against_the_regulariser():
    """SSL losses move the logits by ~1e-4 per step; the update must still follow them."""
    torch.manual_seed(0)
    model = Toy(loss_scale=1e-4)
    architect = Architect(model, lr=0.05, beta_weight=0.5)
    views = [torch.randn(8, 4)]
    before = model.head(views[0]).sub(model.target).pow(2).mean().item()
    for _ in range(60):
        stats = architect.step(views)
    after = model.head(views[0]).sub(model.target).pow(2).mean().item()
    assert stats["arch_grad_rms"] < 1e-3
    assert after < before
    assert max(p.softmax(0).max().item() for p in model.arch_parameters() if p.numel() > 1) > 0.6  # decisions were made


def test_without_normalisation_the_regulariser_drowns_that_signal():
    torch.manual_seed(0)
    model = Toy(loss_scale=1e-4)
    architect = Architect(model, lr=0.05, beta_weight=0.5, normalize=False)
    views = [torch.randn(8, 4)]
    for _ in range(60):
        architect.step(views)
    assert max(p.softmax(0).max().item() for p in model.arch_parameters() if p.numel() > 1) < 0.55


def test_joint_step_uses_existing_gradients_and_clears_them():
    model = Toy()
    architect = Architect(model, lr=0.1)
    before = [p.detach().clone() for p in model.arch_parameters()]
    model.head_loss(Encoded([torch.randn(8, 4)]))["loss"].backward()
    architect.step_from_gradients()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.arch_parameters()))
    assert all(p.grad is None for p in model.arch_parameters())


def test_architect_refuses_models_without_searchable_heads_and_bad_orders():
    class Fixed(Toy):
        def searchable_heads(self):
            return {}

    with pytest.raises(ValueError, match="no searchable heads"):
        Architect(Fixed())
    with pytest.raises(ValueError, match="order"):
        Architect(Toy(), order=3)
    with pytest.raises(ValueError, match="train_encoded"):
        Architect(Toy(), order=2).step([torch.randn(8, 4)])


def test_beta_decay_is_the_mean_smooth_max():
    a, b = torch.tensor([0.0, 0.0]), torch.tensor([1.0, 2.0, 3.0])
    expected = (torch.logsumexp(a, 0) + torch.logsumexp(b, 0)) / 2
    torch.testing.assert_close(beta_decay([a, b]), expected)


def test_collapse_signals():
    spread = torch.randn(512, 64)
    collapsed = torch.randn(1, 64).expand(512, 64) + 1e-4 * torch.randn(512, 64)
    line = torch.randn(512, 1) * torch.randn(1, 64)
    assert normalized_std(spread) > 0.9 and normalized_std(collapsed) < 0.05
    assert effective_rank(spread) > 40 and effective_rank(line) < 1.5
    monitor = CollapseMonitor(max_samples=256)
    for _ in range(4):
        monitor.update(collapsed[:128])
    assert monitor.report().collapsed and monitor.state_dict()["count"] <= 256 + 128
    monitor.reset()
    assert monitor.report() is None
    monitor.update(spread)
    assert not monitor.report().collapsed


def test_a_collapse_monitor_restored_from_a_checkpoint_reports_as_if_never_stopped():
    """A run stopped mid-epoch saves each monitor's state in last.ckpt as {"chunks", "count"}
    (the layout runs wrote before `state_dict` existed, built here by hand); restored, the
    monitor trims and reports exactly as one that was never stopped."""
    torch.manual_seed(0)
    chunks = [torch.randn(96, 16) for _ in range(5)]
    uninterrupted, stopped = CollapseMonitor(max_samples=256), CollapseMonitor(max_samples=256)
    for c in chunks:
        uninterrupted.update(c)
    for c in chunks[:3]:
        stopped.update(c)
    assert stopped.state_dict().keys() == {"chunks", "count"}
    resumed = CollapseMonitor(max_samples=256)
    resumed.load_state_dict({"chunks": list(chunks[:3]), "count": 288})   # what today's checkpoints hold
    for c in chunks[3:]:
        resumed.update(c)
    assert resumed.state_dict()["count"] == uninterrupted.state_dict()["count"]
    assert resumed.report() == uninterrupted.report()
    resumed.load_state_dict(stopped.state_dict())
    for c in chunks[3:]:
        resumed.update(c)
    assert resumed.report() == uninterrupted.report()


def test_schedules():
    assert warmup_cosine_lr(1.0, 0, 100, warmup_steps=10) == pytest.approx(0.1)
    assert warmup_cosine_lr(1.0, 10, 100, warmup_steps=10) == pytest.approx(1.0)
    assert warmup_cosine_lr(1.0, 100, 100) == pytest.approx(0.0)
    assert momentum_schedule(0.99, 0, 100) == pytest.approx(0.99)
    assert momentum_schedule(0.99, 100, 100) == pytest.approx(1.0)
    assert momentum_schedule(0.99, 50, 100, "constant") == 0.99
    assert gumbel_tau(10, 0.1, 0, 11) == 10 and gumbel_tau(10, 0.1, 10, 11) == pytest.approx(0.1)


def test_architecture_optimizer_in_a_plain_loop_freezes_what_it_should():
    from nasiam.search import ArchitectureOptimizer

    torch.manual_seed(0)
    head = SearchableHead(4, 3, 1, MLPSpace(widths=(2, 4), activations=("relu", "identity")))
    arch = ArchitectureOptimizer(head, lr=0.1)
    x, target = torch.randn(8, 4), torch.randn(8, 3)
    with arch.frozen():
        (head(x) - target).pow(2).mean().backward()
    assert all(p.grad is None for p in head.arch_parameters())
    assert all(p.grad is not None for p in head.weight_parameters())
    head.zero_grad(set_to_none=True)
    before = [p.detach().clone() for p in head.arch_parameters()]
    stats = arch.step(lambda: (head(x) - target).pow(2).mean())
    assert all(p.grad is None for p in head.weight_parameters())  # no weight gradients in the arch step
    assert any(not torch.equal(a, b) for a, b in zip(before, head.arch_parameters()))
    assert stats["arch_loss"] > 0
    with pytest.raises(ValueError, match="no searchable heads"):
        ArchitectureOptimizer(nn.Linear(2, 2))


def test_the_architecture_step_leaves_no_gradient_on_heads_it_does_not_search():
    from nasiam.frameworks import SimSiam

    model = SimSiam(nn.Sequential(nn.Flatten(), nn.Linear(12, 16)), 16, proj_hidden_dim=16, proj_output_dim=8,
                    pred_hidden_dim=4, heads={"projector": "search", "predictor": "default"},
                    space=MLPSpace(widths=(4, 8)))
    architect = Architect(model, lr=0.1)
    before = [p.detach().clone() for p in model.arch_parameters()]
    architect.step([torch.randn(8, 3, 2, 2), torch.randn(8, 3, 2, 2)])
    assert all(p.grad is None for p in model.predictor.parameters())
    assert all(p.grad is None for p in model.projector.weight_parameters())
    # the update consumed the logits' gradients, and moved them
    assert all(p.grad is None for p in model.arch_parameters())
    assert not all(torch.equal(a, b) for a, b in zip(before, model.arch_parameters()))


def test_second_order_refuses_sampled_paths():
    model = Toy()
    model.head.set_sampling("gumbel")
    with pytest.raises(ValueError, match="softmax sampling"):
        Architect(model, order=2).step([torch.randn(8, 4)], train_encoded=Encoded([torch.randn(8, 4)]))


def test_non_finite_logit_gradients_skip_the_update():
    model = Toy()
    architect = Architect(model, lr=0.1)
    before = [p.detach().clone() for p in model.arch_parameters()]
    model.head_loss = lambda enc, update_state=True: {"loss": model.head(enc.online[0]).sum() * float("inf")}
    stats = architect.step([torch.randn(8, 4)])
    assert stats["arch_skipped"] == 1.0
    assert all(torch.equal(a, b) for a, b in zip(before, model.arch_parameters()))


@pytest.mark.parametrize("order", [1, 2])
def test_an_architecture_step_reads_the_device_back_once(monkeypatch, order):
    model = Toy()
    architect = Architect(model, lr=0.1, order=order, arch_steps_per_step=1)   # one update: one read
    views = [torch.randn(8, 4)]
    train = Encoded([torch.randn(8, 4)]) if order == 2 else None
    architect.step(views, train_encoded=train)  # warm-up: lazy initialisation may read values
    reads = HostReads(monkeypatch)
    stats = architect.step(views, train_encoded=train)
    assert reads.count == 1, f"{reads.count} host reads in one architecture step"
    assert set(stats) == {"arch_loss", "beta_decay", "arch_grad_rms"} and all(isinstance(v, float) for v in stats.values())


def _fp16_closure(head, x):
    """A float32 loss whose gradient at the head's half-precision output is 1e-8: below half
    precision's smallest subnormal (6e-8), as the tiny SSL gradients inside an fp16-autocast
    head can be."""
    return lambda: head(x).half().float().sum() * 1e-8


def test_fp16_loss_scaling_keeps_gradients_that_half_precision_would_flush_to_zero():
    torch.manual_seed(0)
    head, x = SearchableHead(4, 3, 1, MLPSpace(widths=(2, 4))), torch.randn(8, 4)
    plain = ArchitectureOptimizer(head, beta_weight=0.0).step(_fp16_closure(head, x))
    scaled_optimizer = ArchitectureOptimizer(head, beta_weight=0.0, loss_scaling=True)
    scaled = scaled_optimizer.step(_fp16_closure(head, x))
    assert plain["arch_grad_rms"] == 0.0          # flushed: the logits learn nothing
    assert 0.0 < scaled["arch_grad_rms"] < 1e-6   # kept, and reported unscaled
    assert scaled_optimizer.loss_scale == 2.0 ** 16


def test_the_loss_scale_backs_off_on_overflow_and_grows_after_2000_finite_steps():
    head, x = SearchableHead(4, 3, 1, MLPSpace(widths=(2, 4))), torch.randn(8, 4)
    arch = ArchitectureOptimizer(head, loss_scaling=True)
    before = [p.detach().clone() for p in arch.arch_params]
    assert arch.step(lambda: head(x).sum() * float("inf"))["arch_skipped"] == 1.0
    assert arch.loss_scale == 2.0 ** 15 and all(torch.equal(a, b) for a, b in zip(before, arch.arch_params))
    arch._finite_steps = 1999
    arch.step(lambda: head(x).pow(2).mean())
    assert arch.loss_scale == 2.0 ** 16


def test_the_loss_scale_is_checkpointed_and_old_checkpoints_still_load(tmp_path):
    head, x = SearchableHead(4, 3, 1, MLPSpace(widths=(2, 4))), torch.randn(8, 4)
    arch = ArchitectureOptimizer(head, loss_scaling=True)
    arch.step(lambda: head(x).sum() * float("inf"))  # overflow: the scale backs off to 2**15
    arch.step(lambda: head(x).pow(2).mean())
    torch.save(arch.state_dict(), tmp_path / "arch.pt")
    state = torch.load(tmp_path / "arch.pt", weights_only=True)

    resumed = ArchitectureOptimizer(head, loss_scaling=True)
    resumed.load_state_dict(state)
    assert (resumed.loss_scale, resumed._finite_steps) == (2.0 ** 15, 1)
    # the Adam state comes back whole, beside the scale
    saved, restored = arch.state_dict(), resumed.state_dict()
    assert saved.keys() == restored.keys() and restored["arch_steps"] == 1
    for key in ("exp_avg", "exp_avg_sq"):
        assert torch.equal(restored[key], saved[key])

    unscaled = ArchitectureOptimizer(head)  # resumed without fp16: no scale to restore
    unscaled.load_state_dict(state)
    assert unscaled.loss_scale == 1.0
    # a checkpoint from before the scale was saved, in torch.optim.Adam's layout (one state per logit vector)
    adam = torch.optim.Adam(arch.arch_params)
    for p in arch.arch_params:
        p.grad = torch.randn(p.shape)
    adam.step()
    old_format = ArchitectureOptimizer(head, loss_scaling=True)
    old_format.load_state_dict({**adam.state_dict(), "arch_steps": 1})
    assert old_format.loss_scale == 2.0 ** 16 and old_format.arch_steps == 1
    assert torch.equal(old_format.state_dict()["exp_avg_sq"],
                       torch.cat([adam.state[p]["exp_avg_sq"] for p in arch.arch_params]))
    with pytest.raises(ValueError, match="holds 15 logits, these heads have 30"):
        ArchitectureOptimizer(SearchableHead(4, 3, 2, MLPSpace(widths=(2, 4)))).load_state_dict(saved)


def _reference_update(params, grads, policy, progress, optimizer):
    """The update as `finish` computed it one choice at a time (before the padded layout): the
    reference the padded, foreach update must equal (#35)."""
    flat = torch.cat([g.reshape(-1) for g in grads]).float()
    rms = float(flat.pow(2).mean().sqrt())
    scale = 1.0 / rms if policy.normalize and rms > 0 else 1.0
    beta = policy.beta(progress)
    for p, g in zip(params, grads):
        g = g * scale
        if beta > 0:
            g = g + beta * torch.softmax(p.detach(), dim=-1)
        p.grad = g - g.mean()
    optimizer.step()


@pytest.mark.parametrize("normalize, beta_weight, weight_decay", [(True, 0.5, 0.0), (False, 0.0, 1e-3),
                                                                  (True, 2.0, 1e-2)])
def test_the_padded_update_equals_the_per_choice_update(normalize, beta_weight, weight_decay):
    """One padded tensor for all choices and Adam's foreach path give the same logits, step
    after step, as updating each choice's vector on its own with Adam's per-tensor loop."""
    from nasiam import MLPSpace, SearchableHead
    from nasiam.search import ArchitectureOptimizer

    torch.manual_seed(0)
    heads = [SearchableHead(16, 16, num_layers=2, space=MLPSpace()) for _ in range(2)]
    arch = ArchitectureOptimizer(heads, normalize=normalize, beta_weight=beta_weight, weight_decay=weight_decay)
    twins = [p.detach().clone().requires_grad_(True) for p in arch.arch_params]
    reference = torch.optim.Adam(twins, lr=arch.policy.lr, betas=arch.policy.betas, weight_decay=weight_decay,
                                 foreach=False)
    g = torch.Generator().manual_seed(1)
    for step in range(6):
        grads = [1e-3 * torch.randn(p.shape, generator=g) for p in arch.arch_params]
        for p, grad in zip(arch.arch_params, grads):
            p.grad = grad.clone()
        arch.finish(progress=step / 5)
        _reference_update(twins, grads, arch.policy, step / 5, reference)
        for p, twin in zip(arch.arch_params, twins):
            torch.testing.assert_close(p.detach(), twin.detach(), rtol=1e-5, atol=1e-6)
    assert arch.arch_steps == 6 and any(not torch.equal(p, torch.zeros_like(p)) for p in twins)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("normalize, beta_weight, weight_decay", [(True, 0.5, 0.0), (False, 0.0, 1e-3),
                                                                  (True, 2.0, 1e-2)])
def test_the_update_is_bit_for_bit_the_one_finish_took_before_its_operators_were_cut(
        dtype, normalize, beta_weight, weight_decay):
    """`finish` in fewer operators (#35 item 2: gradients and logits padded by one gather, the
    finiteness test and the normalisation in two operators each, the masked logits shared) adds
    the same numbers in the same order as before (tests/_reference_update.py, verbatim): the
    logits, Adam's state and the reported metrics are equal bit for bit, step after step, through
    an all-zero gradient (RMS 0), a logit without gradient, and a non-finite step that is skipped."""
    import _reference_update as reference

    from nasiam import MLPSpace, SearchableHead
    from nasiam.search import ArchitectureOptimizer

    def optimizer():
        torch.manual_seed(0)
        heads = [SearchableHead(16, 16, num_layers=2, space=MLPSpace(widths=(8, 16))).to(dtype) for _ in range(2)]
        for p in (p for h in heads for p in h.arch_parameters()):
            nn.init.normal_(p)
        return ArchitectureOptimizer(heads, normalize=normalize, beta_weight=beta_weight, weight_decay=weight_decay)

    new, old = optimizer(), optimizer()
    g = torch.Generator().manual_seed(1)
    for step in range(8):
        grads = [1e-3 * torch.randn(p.shape, generator=g, dtype=dtype) for p in new.arch_params]
        if step == 2:
            grads = [torch.zeros_like(x) for x in grads]   # RMS 0: normalised by 1
        if step == 3:
            grads[1] = None                                 # a choice the loss did not reach
        if step == 5:
            grads[4][0] = float("nan")                      # skipped, the state untouched
        loss = torch.tensor(0.25 * step)
        for arch in (new, old):
            for p, grad in zip(arch.arch_params, grads):
                p.grad = None if grad is None else grad.clone()
        reported = new.finish(progress=step / 7, loss=loss)
        expected = reference.finish_before(old, progress=step / 7, loss=loss)
        assert reported == expected
        for a, b in zip(new.arch_params, old.arch_params):
            assert torch.equal(a, b) and a.dtype == dtype
        assert all(torch.equal(a, b) and a.dtype == b.dtype for a, b in zip(new._moments, old._moments))
        assert all(p.grad is None for p in new.arch_params)
    assert new.arch_steps == old.arch_steps == 7
    assert not torch.equal(new._moments[0], torch.zeros_like(new._moments[0]))
