"""One search policy for every driver, and the noise floor its decisions are judged against."""
import dataclasses

import pytest
import torch

from nasiam import SearchableHead
from nasiam.config import SearchConfig
from nasiam.search import ArchitectureOptimizer, SearchPolicy, decision_report, noise_floor
from nasiam.space import MLPSpace


def test_every_driver_starts_from_the_same_defaults():
    from nasiam.integrations.lightning import NASSearchCallback

    assert SearchConfig().policy() == SearchPolicy()
    assert NASSearchCallback().policy == SearchPolicy()
    head = SearchableHead(4, 4, space=MLPSpace(widths=(4, 8)))
    assert ArchitectureOptimizer(head).policy == SearchPolicy()
    # a setting given as a keyword changes that field only
    assert ArchitectureOptimizer(head, lr=0.1).policy == dataclasses.replace(SearchPolicy(), lr=0.1)
    assert NASSearchCallback(SearchableHead(4, 4), warmup_epochs=0).policy.warmup_epochs == 0


def test_the_policy_says_when_and_how_hard():
    policy = SearchPolicy(warmup_epochs=2, arch_every=3, beta_weight=0.4)
    assert [policy.due(1, s) for s in range(4)] == [False] * 4                # warm-up
    assert [policy.due(2, s) for s in range(7)] == [True, False, False, True, False, False, True]
    assert policy.beta(0.0) == 0.0 and policy.beta(0.5) == pytest.approx(0.2) and policy.beta(2.0) == 0.4
    assert policy.beta(None) == 0.4
    assert SearchPolicy(beta_schedule="constant", beta_weight=0.4).beta(0.1) == 0.4


@pytest.mark.parametrize("bad, match", [({"lr": 0}, "learning rate"), ({"betas": (0.9, 1.0)}, "betas"),
                                        ({"beta_schedule": "cosine"}, "beta_schedule"),
                                        ({"arch_every": 0}, "arch_every"), ({"warmup_epochs": -1}, "warmup_epochs"),
                                        ({"beta_weight": -1.0}, "non-negative")])
def test_bad_settings_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        SearchPolicy(**bad)
    with pytest.raises(TypeError, match="unknown search policy setting"):
        SearchPolicy().replace(arch_lr=0.1)


def _reference_floor(sizes, steps, policy, start_progress, samples, seed):
    """The noise floor written out by hand, run by run and decision by decision, with
    torch.optim.Adam: each step a Gaussian loss gradient (drawn as the floor draws it) centred per
    decision, divided by its RMS over all logits, plus beta * softmax, centred again, then Adam."""
    generator = torch.Generator().manual_seed(seed)
    runs = [[torch.zeros(n, requires_grad=True) for n in sizes] for _ in range(samples)]
    optimizers = [torch.optim.Adam(run, lr=policy.lr, betas=policy.betas, weight_decay=policy.weight_decay,
                                   foreach=False) for run in runs]
    for t in range(steps):
        noise = torch.randn((samples, len(sizes), max(sizes)), generator=generator)   # padded: the floor's draw
        beta = policy.beta(start_progress + (1 - start_progress) * t / max(1, steps - 1))
        for run, optimizer, rows in zip(runs, optimizers, noise):
            grads = [row[:n] - row[:n].mean() for row, n in zip(rows, sizes)]
            rms = torch.cat(grads).pow(2).mean().sqrt() if policy.normalize else 1.0
            for p, g in zip(run, grads):
                g = g / rms + beta * torch.softmax(p.detach(), dim=-1)
                p.grad = g - g.mean()
            optimizer.step()
    winning = torch.tensor([[float(p.detach().softmax(-1).max()) for p in run] for run in runs])
    return torch.quantile(winning, 0.95, dim=0).tolist()


@pytest.mark.parametrize("settings", [dict(lr=0.05, beta_weight=0.5), dict(lr=0.1, beta_weight=2.0, weight_decay=0.01),
                                      dict(normalize=False, beta_weight=0.0, betas=(0.5, 0.99))])
def test_the_noise_floor_is_the_update_written_out_by_hand(settings):
    """The floor simulates the update `finish` takes (`update_logits`, shared): against a
    reference written out run by run with torch's Adam it must agree to rounding, so dropping
    its centring, normalisation, Beta-Decay ramp or an Adam step shows."""
    policy, sizes = SearchPolicy(**settings), [2, 3, 5]
    floors = noise_floor(sizes, 12, policy, start_progress=0.25, samples=24, seed=4)
    assert floors == pytest.approx(_reference_floor(sizes, 12, policy, 0.25, 24, seed=4), abs=1e-4)
    assert all(1 / n + 0.01 < f for n, f in zip(sizes, floors))   # noise moved them: the test can tell


def test_the_noise_floor_rises_with_steps_and_is_uniform_without_any():
    sizes = [2, 4, 8]
    short, long_ = noise_floor(sizes, 20), noise_floor(sizes, 400)
    assert all(s < lo for s, lo in zip(short, long_))
    assert all(1 / n < s < 1 for n, s in zip(sizes, short))
    assert noise_floor(sizes, 0) == [0.5, 0.25, 0.125]


def test_a_decision_is_above_noise_only_when_its_winner_beats_the_floor():
    probabilities = {"projector": [{"width": {64: 0.97, 128: 0.01, 256: 0.01, 512: 0.01},
                                    "norm": {"batchnorm": 0.36, "none": 0.33, "layernorm": 0.31}}]}
    rows = {r["choice"]: r for r in decision_report(probabilities, arch_steps=200)}
    assert rows["width"]["above_noise"] and rows["width"]["option"] == 64
    assert not rows["norm"]["above_noise"] and rows["norm"]["noise_floor"] > 0.36
    assert decision_report(probabilities, arch_steps=200) == decision_report(probabilities, arch_steps=200)  # seeded


def test_the_optimizer_counts_its_updates_across_a_checkpoint():
    head = SearchableHead(4, 4, space=MLPSpace(widths=(4, 8)))
    arch = ArchitectureOptimizer(head)
    x = torch.randn(8, 4)
    for t in range(3):
        arch.step(lambda: head(x).pow(2).mean(), progress=0.25 + t / 10)
    assert arch.arch_steps == 3 and arch.first_progress == 0.25
    resumed = ArchitectureOptimizer(head)
    resumed.load_state_dict(arch.state_dict())
    assert (resumed.arch_steps, resumed.first_progress) == (3, 0.25)
    rows = resumed.decisions({"projector": head.probabilities()})
    assert rows and all("noise_floor" in r and "above_noise" in r for r in rows)


def test_several_updates_per_step_reuse_the_cached_features_of_recent_batches():
    from test_architect import Toy

    from nasiam.search import Architect

    torch.manual_seed(0)
    model = Toy()
    encoded_batches = []
    encode = model.encode
    model.encode = lambda views: encoded_batches.append(views) or encode(views)
    architect = Architect(model, arch_steps_per_step=3)
    batches = [[torch.randn(8, 4)] for _ in range(5)]
    seen = []
    head_loss = model.head_loss
    model.head_loss = lambda enc, update_state=True: seen.append(enc.online[0]) or head_loss(enc, update_state)
    for views in batches:
        architect.step(views)
    assert len(encoded_batches) == 5                          # one backbone forward per batch
    assert architect.arch_steps == 1 + 2 + 3 + 3 + 3          # up to 3 updates, one per recent batch
    # the last call updated on batches 5, 4, 3 (newest first), from their cached features
    assert [b.data_ptr() for b in seen[-3:]] == [batches[i][0].data_ptr() for i in (4, 3, 2)]
    with pytest.raises(ValueError, match="arch_steps_per_step=2 needs first-order bilevel"):
        Architect(Toy(), order=2, arch_steps_per_step=2)


def test_several_updates_per_step_need_a_first_order_bilevel_search():
    from nasiam.config import ConfigError, validate_config
    from nasiam.integrations.lightning import NASSearchCallback

    for bad in ({"mode": "joint"}, {"strategy": "darts2"}):
        with pytest.raises(ConfigError, match="arch_steps_per_step=2 needs first-order bilevel"):
            validate_config(SearchConfig(arch_steps_per_step=2, **bad))
    assert SearchConfig(arch_steps_per_step=4).policy().arch_steps_per_step == 4
    with pytest.raises(ValueError, match="needs first-order bilevel"):
        NASSearchCallback(arch_steps_per_step=2)


def test_the_default_takes_four_updates_where_it_can_and_one_where_it_cannot():
    """None (the default): 4 updates per step in first-order bilevel search, 1 in joint and
    second-order search, so the default works in every mode (RESULTS.md, "Search signal")."""
    from test_architect import Toy

    from nasiam.config import validate_config
    from nasiam.integrations.lightning import NASSearchCallback
    from nasiam.search import Architect, SearchPolicy

    policy = SearchPolicy()
    assert policy.arch_steps_per_step is None and policy.betas == (0.9, 0.999)
    assert (policy.updates_per_step(True), policy.updates_per_step(False)) == (4, 1)
    assert Architect(Toy()).driver.updates == 4 and Architect(Toy(), order=2).driver.updates == 1
    assert NASSearchCallback().driver.updates == 1                      # joint
    assert NASSearchCallback(arch_dataloader=[None]).driver.updates == 4  # bilevel
    for mode in ({"mode": "joint"}, {"strategy": "darts2"}, {}):
        validate_config(SearchConfig(**mode))                                   # the default is valid everywhere


def test_darts2_updates_the_logits_on_every_step_the_policy_says_and_no_other():
    """darts2 (second order: one update per step, each on its own weight batch) at its defaults
    (one warm-up epoch, arch_every 1), update for update. The golden search's darts2 case judged
    the schedule only through the logits it ends with, to a tolerance (tests/test_search_golden.py)."""
    from test_architect import Toy

    from nasiam.search import Architect
    from nasiam.search.architect import Encoded

    torch.manual_seed(0)
    architect, taken = Architect(Toy(), order=2, warmup_epochs=1), []
    for epoch in range(3):
        for step in range(4 * epoch, 4 * epoch + 4):   # 4 optimizer steps an epoch, counted over the run
            if architect.due(epoch, step):
                architect.step([torch.randn(8, 4)], train_encoded=Encoded([torch.randn(8, 4)]))
                taken.append(step)
    assert taken == list(range(4, 12)) and architect.arch_steps == 8


def test_the_recent_features_travel_with_the_architects_state():
    """A resumed search takes the same updates: the cached features of the last architecture
    batches are part of the state (a SIGKILL-and-resume test failed without them)."""
    from test_architect import Toy

    from nasiam.search import Architect
    from nasiam.search.architect import Encoded

    torch.manual_seed(0)
    first = Architect(Toy(), arch_steps_per_step=3)
    for _ in range(2):
        first.step([torch.randn(8, 4)])
    second = Architect(Toy(), arch_steps_per_step=3)
    second.load_state_dict(first.state_dict())
    assert len(second.driver.recent) == 2
    assert all(torch.equal(a.online[0], b.online[0]) for a, b in zip(first.driver.recent, second.driver.recent))
    # the checkpoint's layout, as 0.1.0's runs wrote it: a list of {"online": [...], "target": None}
    # beside the Adam state; a checkpoint in it (built by hand) resumes into `Encoded`s
    state = first.state_dict()
    assert [sorted(e) for e in state["recent_features"]] == [["online", "target"]] * 2
    assert state["recent_features"][0]["target"] is None and {"arch_steps", "exp_avg"} <= state.keys()
    features = [torch.randn(8, 4) for _ in range(4)]
    third = Architect(Toy(), arch_steps_per_step=3)
    third.load_state_dict({**first.arch.state_dict(),
                           "recent_features": [{"online": [f], "target": None} for f in features]})
    assert len(third.driver.recent) == 3                                  # the newest 3
    assert all(torch.equal(e.online[0], f) for e, f in zip(third.driver.recent, features[1:]))
    assert all(isinstance(e, Encoded) and e.target is None for e in third.driver.recent)
    assert third.arch_steps == first.arch_steps == 1 + 2


def test_chance_agreement_matches_enumerating_every_pick():
    import collections
    import itertools

    from nasiam.search.decisions import chance_agreement

    for options, runs in [(1, 3), (2, 1), (2, 2), (3, 4), (8, 4), (2, 7)]:
        picks = list(itertools.product(range(options), repeat=runs))
        brute = sum(collections.Counter(p).most_common(1)[0][1] / runs for p in picks) / len(picks)
        assert chance_agreement(options, runs) == pytest.approx(brute, abs=1e-12), (options, runs)
    assert 1 / 8 < chance_agreement(8, 19) < chance_agreement(2, 19) < 1   # many seeds: towards 1/options
    with pytest.raises(ValueError, match="runs >= 1"):
        chance_agreement(2, 0)
    # many runs: simulated (seeded), against the binomial's exact expected majority
    import math

    n = 400
    exact = sum(math.comb(n, x) * max(x, n - x) for x in range(n + 1)) / 2 ** n / n
    assert chance_agreement(2, n) == pytest.approx(exact, abs=0.003)


def test_decision_agreement_counts_the_most_chosen_option_and_the_searches_above_noise():
    from nasiam.search.decisions import decision_agreement

    def decision(choice, option, options, above):
        return {"head": "projector", "layer": 0, "choice": choice, "option": option, "options": options,
                "uniform": 1 / options, "above_noise": above}

    searches = [[decision("keep", True, 2, True), decision("width", 128, 4, False)],
                [decision("keep", True, 2, True), decision("width", 256, 4, True)],
                [decision("keep", False, 2, False), decision("width", 128, 4, False)]]
    rows = {r["choice"]: r for r in decision_agreement(searches)}
    assert rows["keep"]["option"] == "True" and rows["keep"]["agreement"] == pytest.approx(2 / 3)
    assert rows["keep"]["above_noise"] == 2 and rows["keep"]["searches"] == 3
    assert rows["width"]["option"] == "128" and rows["width"]["above_noise"] == 1
    assert rows["keep"]["chance"] == pytest.approx(0.75) and rows["width"]["chance"] == pytest.approx(0.5625)
    # a damaged or foreign summary's entries are left out, not trusted (an absurd option count
    # would otherwise size the chance computation)
    damaged = [{"head": "projector"}, "x", decision("keep", True, 10 ** 9, True), {**decision("keep", True, 2, True),
                                                                                   "options": "many"}]
    rows = {r["choice"]: r for r in decision_agreement([*searches, damaged])}
    assert rows["keep"]["searches"] == 3
