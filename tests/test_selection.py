"""Label-free selection: RankMe, decision confidence, and `--selection verify` in a search."""
import json

import pytest
import torch
from _runs import TINY, cli

from nasiam.eval import rankme
from nasiam.runner.selection import decision_confidence, joint_candidates, near_uniform


def test_rankme_by_hand():
    # singular values all equal -> p uniform over n -> exp(entropy) = n
    assert rankme(torch.eye(6)) == pytest.approx(6.0, rel=1e-5)
    # rank one -> 1 (up to the paper's epsilon)
    column = torch.randn(50, 1)
    assert rankme(column @ torch.randn(1, 8)) == pytest.approx(1.0, abs=1e-3)
    # singular values 3 and 1: p = (0.75, 0.25) -> exp(-(0.75 ln 0.75 + 0.25 ln 0.25))
    m = torch.diag(torch.tensor([3.0, 1.0]))
    assert rankme(m) == pytest.approx(torch.exp(-(0.75 * torch.log(torch.tensor(0.75)) +
                                                   0.25 * torch.log(torch.tensor(0.25)))).item(), rel=1e-4)
    x = torch.randn(200, 16)
    assert rankme(5 * x) == pytest.approx(rankme(x), rel=1e-6)   # scale-free
    with pytest.raises(ValueError, match="\\(N, D\\)"):
        rankme(torch.randn(5))


def test_decision_confidence_flags_near_uniform_choices():
    probabilities = {"projector": [{"width": {128: 0.26, 256: 0.25, 512: 0.25, 1024: 0.24},
                                    "activation": {"relu": 0.9, "gelu": 0.1}}]}
    rows = decision_confidence(probabilities)
    width = next(r for r in rows if r["choice"] == "width")
    act = next(r for r in rows if r["choice"] == "activation")
    assert width["option"] == 128 and width["uniform"] == 0.25 and width["normalized_entropy"] > 0.99
    assert act["option"] == "relu" and act["normalized_entropy"] < 0.5
    assert [r["choice"] for r in near_uniform(rows)] == ["width"]


def test_joint_candidates_are_distinct_and_ranked():
    from nasiam.frameworks import framework_class

    model = framework_class("simsiam")(torch.nn.Flatten(), 12, heads="search", proj_hidden_dim=8,
                                       proj_output_dim=8, pred_hidden_dim=4)
    with torch.no_grad():   # make one projector activation clearly the most probable
        model.projector.searchable_layers()[0].arch["activation"][0] = 3.0
    candidates = joint_candidates(model, 4)
    assert len(candidates) == 4
    # first the argmax (what DARTS exports), then the others by joint probability
    assert candidates[0]["genotypes"]["projector"].describe() == model.projector.genotype().describe()
    probs = [c["probability"] for c in candidates[1:]]
    assert probs == sorted(probs, reverse=True)
    described = {tuple(g.describe() for g in c["genotypes"].values()) for c in candidates}
    assert len(described) == 4
    # near-uniform logits: skipping a layer is jointly likelier than any one kept layer
    assert any("batchnorm-relu" not in c["genotypes"]["projector"].describe() for c in candidates[1:])


@pytest.mark.slow
def test_verify_selection_end_to_end(tmp_path):
    cli("search", *TINY, "--selection=verify", "--verify_top_k=3", f"--out_dir={tmp_path}", "--run_name=v")
    run = tmp_path / "v"
    summary = json.loads((run / "summary.json").read_text())
    selection = summary["selection"]
    assert selection["method"] == "verify" and len(selection["candidates"]) == 3
    scores = [c["rankme"] for c in selection["candidates"]]
    assert selection["chosen_rank"] == scores.index(max(scores)) + 1      # the highest RankMe wins
    chosen = selection["candidates"][selection["chosen_rank"] - 1]["genotypes"]
    assert summary["genotypes"] == chosen                                  # ... and is what the run exports
    assert summary["near_uniform_decisions"] <= len(summary["decisions"]) and summary["decisions"]
    argmax = json.loads((run / "genotype.argmax.json").read_text())
    first = selection["candidates"][0]["genotypes"]
    from nasiam.space import Genotype
    assert {k: Genotype.from_dict(v).describe() for k, v in argmax["heads"].items()} == first
    # `nasiam export` reads the selection from the checkpoint, not the argmax
    cli("export", str(run), "--out", str(tmp_path / "exported"))
    exported = json.loads((tmp_path / "exported" / "heads" / "projector" / "genotype.json").read_text())
    assert Genotype.from_dict(exported).describe() == chosen["projector"]


@pytest.mark.slow
def test_argmax_selection_is_the_default_and_skips_verification(tmp_path):
    result = cli("search", *TINY, f"--out_dir={tmp_path}", "--run_name=a")
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["selection"] == {"method": "argmax"}
    assert not (tmp_path / "a" / "genotype.argmax.json").exists()
    assert "verifying" not in result.stdout


@pytest.mark.parametrize("data_device", ["workers", "cpu"])
def test_verification_scores_on_the_architecture_half_whichever_pipeline_makes_the_views(data_device):
    """RankMe must be measured on images no weight step trained on: the architecture half,
    un-augmented, with per-sample workers and with the batched (device) pipeline alike."""
    from nasiam.config import SearchConfig, load_config
    from nasiam.runner.build import build_train_data, data_info

    cfg = load_config(SearchConfig, None, {"dataset": "synthetic", "subset": "256", "image_size": "16",
                                           "batch_size": "32", "data_device": data_device, "num_workers": "0"})
    data = build_train_data(cfg, data_info(cfg), bilevel=True)
    held_out, trained = set(data.held_out.indices), set(data.calibration.indices)
    assert len(held_out) == len(trained) == 128 and not held_out & trained
    assert data.held_out.dataset is data.calibration.dataset   # the same un-augmented images


def test_the_default_heads_as_a_candidate_of_the_space():
    from nasiam.frameworks import framework_class
    from nasiam.runner.selection import default_candidate
    from nasiam.space import MLPSpace

    model = framework_class("simsiam")(torch.nn.Flatten(), 12, heads="search", proj_hidden_dim=8, proj_output_dim=8,
                                       pred_hidden_dim=4, space=MLPSpace(widths=(4, 8, 16)))
    before = [p.detach().clone() for p in model.arch_parameters()]
    candidate = default_candidate(model, {"projector": 8, "predictor": 4})
    assert candidate["genotypes"]["projector"].describe().startswith("linear8-batchnorm-relu > ")
    assert candidate["genotypes"]["predictor"].describe().startswith("linear4-batchnorm-relu > ")
    assert all(torch.equal(a, b) for a, b in zip(before, model.arch_parameters()))   # the logits are put back
    assert default_candidate(model, {"projector": 2048, "predictor": 4}) is None      # not in the space


@pytest.mark.slow
def test_probe_selection_halves_the_shortlist_by_held_out_probe_accuracy(tmp_path):
    cli("search", *TINY, "--selection=probe", "--verify_top_k=2", "--verify_samples=96", f"--out_dir={tmp_path}",
        "--run_name=p")
    summary = json.loads((tmp_path / "p" / "summary.json").read_text())
    selection = summary["selection"]
    candidates = selection["candidates"]
    assert selection["method"] == "probe" and any(c["default"] for c in candidates)   # the default heads compete
    rounds = max(len(c["probe_top1"]) for c in candidates)
    assert rounds >= 2 and sum(len(c["probe_top1"]) == rounds for c in candidates) == 1   # one left at the end
    chosen = candidates[selection["chosen_rank"] - 1]
    assert len(chosen["probe_top1"]) == rounds and summary["genotypes"] == chosen["genotypes"]
    for r in range(rounds - 1):   # whoever went on scored at least as well as whoever stopped
        went_on = [c["probe_top1"][r] for c in candidates if len(c["probe_top1"]) > r + 1]
        stopped = [c["probe_top1"][r] for c in candidates if len(c["probe_top1"]) == r + 1]
        assert min(went_on) >= max(stopped)
    assert chosen["epochs"] == sum(2 ** r for r in range(rounds))   # 1, then 2, 4, ... epochs
    assert selection["epochs"] == sum(c["epochs"] for c in candidates) and selection["pretrain_runs"] > 0
