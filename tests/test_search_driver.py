"""The search driver both `nasiam search` (through `Architect`) and `NASSearchCallback` use:
the due rule, the replay of recent architecture batches and the noise verdict."""
import pytest
import torch

from nasiam.search import ARCH_METRICS, NoiseVerdict, SearchDriver, SearchPolicy, noise_verdict, training_progress


class RecordingOptimizer:
    """Stands in for `ArchitectureOptimizer`: records which item each update saw."""

    def __init__(self):
        self.seen = []

    def step(self, closure, progress):
        loss = closure()
        self.seen.append(int(loss))
        return {"arch_loss": float(loss), "beta_decay": progress, **({"arch_skipped": 1.0} if loss == 2 else {})}


def test_replay_updates_on_the_last_n_items_newest_first_and_averages_their_metrics():
    driver = SearchDriver(SearchPolicy(arch_steps_per_step=3), bilevel_first_order=True)
    arch = RecordingOptimizer()
    for item in range(5):
        metrics = driver.replay(arch, item, lambda i: torch.tensor(float(i)), 0.5)
    # an oldest-first replay, or one more update than N, fails here
    assert arch.seen == [0, 1, 0, 2, 1, 0, 3, 2, 1, 4, 3, 2]
    # the mean over the last call's updates (4, 3, 2), not one update's value; a metric only one
    # update reported (arch_skipped, on item 2) is left out
    assert metrics == {"arch_loss": 3.0, "beta_decay": 0.5}


def test_the_driver_takes_the_policys_warm_up_arch_every_and_updates():
    driver = SearchDriver(SearchPolicy(warmup_epochs=1, arch_every=3), bilevel_first_order=True)
    assert [driver.due(0, s) for s in range(4)] == [False] * 4                  # warm-up
    assert [driver.due(1, s) for s in range(4)] == [True, False, False, True]
    assert (driver.updates, SearchDriver(SearchPolicy(), bilevel_first_order=False).updates) == (4, 1)
    with pytest.raises(ValueError, match="arch_steps_per_step=2 needs first-order bilevel"):
        SearchDriver(SearchPolicy(arch_steps_per_step=2), bilevel_first_order=False)


def test_the_runner_and_the_callback_drive_the_search_with_it():
    from test_architect import Toy

    from nasiam.integrations.lightning import NASSearchCallback
    from nasiam.search import Architect

    assert isinstance(Architect(Toy()).driver, SearchDriver)
    assert isinstance(NASSearchCallback(arch_dataloader=[None]).driver, SearchDriver)


def test_the_noise_verdict_is_the_one_the_cli_printed():
    """`nasiam search` printed its note when `above <= max(1, decisions // 20)` and the callback
    warned when `above <= max(1, 0.05 * decisions)`: for whole counts the same rule, now one.
    A strict `<`, or a threshold of 1 in 10, fails here."""
    for decisions in range(0, 1001):
        for above in range(0, decisions + 1):
            verdict = NoiseVerdict(above, decisions)
            assert verdict.mostly_noise == (above <= max(1, decisions // 20)), (above, decisions)
    verdict = noise_verdict([{"above_noise": True}, {"above_noise": False}, {"option": "no floor"}])
    assert verdict.metrics() == {"decisions_above_noise": 1, "decisions": 3}


def test_training_progress_is_the_share_done_or_none_for_an_unknown_length():
    """`nasiam search` and the callback take the Beta-Decay ramp from it. A 0.0 for an unknown
    length (Lightning's `inf` stepping batches, or 0) would hold Beta-Decay at zero all run; None
    gives the full weight (`SearchPolicy.beta`)."""
    assert training_progress(3, 12) == 0.25
    assert training_progress(5, float("inf")) is None and training_progress(0, 0) is None
    assert SearchPolicy(beta_weight=0.5).beta(training_progress(5, float("inf"))) == 0.5


def test_replay_encoded_runs_the_backbone_once_per_batch_without_gradients():
    """The backbone (`encode`) runs once per architecture batch, outside autograd, and the N
    updates see its output: an encode per update, or one that keeps a graph, fails here."""
    driver = SearchDriver(SearchPolicy(arch_steps_per_step=2), bilevel_first_order=True)
    arch, calls = RecordingOptimizer(), []

    def encode(batch):
        calls.append(torch.is_grad_enabled())
        return batch * 10

    for batch in (1, 2, 3):
        driver.replay_encoded(arch, torch.tensor(float(batch), requires_grad=True), encode, lambda f: f, 0.5)
    assert calls == [False, False, False]
    assert arch.seen == [10, 20, 10, 30, 20]


def test_arch_metrics_name_what_an_architecture_step_reports():
    """`nasiam search` averages ARCH_METRICS over an epoch's architecture steps (the others over
    all steps): a metric `ArchitectureOptimizer.finish` reports under another name would be
    divided by the wrong count. The skipped step's `arch_skipped` is among them."""
    from nasiam import MLPSpace, SearchableHead
    from nasiam.search import ArchitectureOptimizer

    torch.manual_seed(0)
    head = SearchableHead(4, 3, 1, MLPSpace(widths=(2, 4), activations=("relu",)))
    arch = ArchitectureOptimizer(head)
    x = torch.randn(8, 4)
    reported = set(arch.step(lambda: head(x).pow(2).mean(), 0.5))
    reported |= set(arch.step(lambda: head(x).pow(2).mean() * float("nan"), 0.5))   # skipped
    assert reported == set(ARCH_METRICS)


def test_the_warm_up_leaves_epochs_to_search_only_past_it():
    """`--warmup_epochs` equal to `--epochs` is refused by the CLI and warned about by the
    callback (the same rule): the logits would never train. A `>=` here passes that run."""
    policy = SearchPolicy(warmup_epochs=2)
    assert [policy.searches_within(e) for e in (1, 2, 3)] == [False, False, True]


def test_the_recent_batches_round_trip_through_state_dict_detached_on_the_cpu(tmp_path):
    """`state_dict` keeps the newest N items as plain containers of CPU tensors, what
    `torch.load(weights_only=True)` reads; `load_state_dict` moves them back, rebuilds each and
    keeps only the newest N of a longer list (a resume with fewer updates per step)."""
    from nasiam.search.architect import Encoded

    torch.manual_seed(0)
    driver = SearchDriver(SearchPolicy(arch_steps_per_step=3), bilevel_first_order=True)
    arch = RecordingOptimizer()
    weight = torch.ones(2, requires_grad=True)
    items = [Encoded([torch.randn(2) * weight], None if i % 2 else [torch.randn(2)]) for i in range(4)]
    for item in items:
        driver.replay(arch, item, lambda i: torch.tensor(1.0), 0.5)
    torch.save(driver.state_dict(), tmp_path / "driver.pt")
    state = torch.load(tmp_path / "driver.pt", weights_only=True)
    assert list(state) == ["recent_features"] and len(state["recent_features"]) == 3   # the newest 3
    stored = state["recent_features"][0]
    assert stored.keys() == {"online", "target"} and not stored["online"][0].requires_grad

    resumed = SearchDriver(SearchPolicy(arch_steps_per_step=2), bilevel_first_order=True)
    resumed.load_state_dict(state, device="cpu", rebuild=lambda e: Encoded(**e))
    assert len(resumed.recent) == 2 and all(isinstance(e, Encoded) for e in resumed.recent)
    for restored, original in zip(resumed.recent, items[2:]):
        assert torch.equal(restored.online[0], original.online[0].detach())
        assert (restored.target is None) == (original.target is None)
    # plain containers come back as they went; a checkpoint without recent batches empties the buffer
    plain = SearchDriver(SearchPolicy(arch_steps_per_step=2), bilevel_first_order=True)
    plain.replay(arch, ({"x": torch.ones(1)}, [torch.zeros(1)], 7), lambda i: torch.tensor(1.0), 0.5)
    again = SearchDriver(SearchPolicy(arch_steps_per_step=2), bilevel_first_order=True)
    again.load_state_dict(plain.state_dict())
    (mapping, listed, number), = again.recent
    assert torch.equal(mapping["x"], torch.ones(1)) and torch.equal(listed[0], torch.zeros(1)) and number == 7
    again.load_state_dict({})
    assert not again.recent
