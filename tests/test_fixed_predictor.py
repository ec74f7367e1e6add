"""`nasiam search --predictor default|directpred`: the projector is searched, the predictor is
kept fixed (the method's standard one, or DirectPred's closed form) and exported with it."""
import json
import random

import pytest
import torch
from _runs import TINY

from nasiam.cli import main
from nasiam.compare.plan import draw_panel
from nasiam.config import ConfigError, SearchConfig, load_config
from nasiam.frameworks import framework_class
from nasiam.head import DirectPredLinear, NASHead, SearchableHead
from nasiam.runner.build import framework_kwargs, searchable_heads
from nasiam.search.architect import Encoded

OPTIONS = {"dataset": "synthetic", "proj_hidden_dim": "32", "proj_output_dim": "32", "pred_hidden_dim": "16",
           "widths": "16,32"}


def _model(predictor: str, framework: str = "simsiam"):
    torch.manual_seed(0)
    cfg = load_config(SearchConfig, None, {**OPTIONS, "framework": framework, "predictor": predictor})
    cls = framework_class(framework)
    backbone = torch.nn.Linear(12, 24)
    backbone.num_features = 24
    return cls(backbone, 24, heads=searchable_heads(cfg, cls, 24, framework_kwargs(cfg)), **framework_kwargs(cfg))


def _directpred(model) -> DirectPredLinear:
    return next(m for m in model.predictor.modules() if isinstance(m, DirectPredLinear))


@pytest.mark.parametrize("predictor, op", [("directpred", "directpred"), ("default", "linear")])
def test_the_predictor_is_fixed_and_travels_with_the_searched_projector(predictor, op):
    model = _model(predictor)
    assert isinstance(model.projector, SearchableHead) and isinstance(model.predictor, NASHead)
    assert list(model.searchable_heads()) == ["projector"] and list(model.fixed_heads()) == ["predictor"]
    assert all(p in {id(q) for q in model.projector.arch_parameters()} for p in map(id, model.arch_parameters()))
    genotypes = model.genotypes()
    assert list(genotypes) == ["projector", "predictor"] and genotypes["predictor"].meta["fixed"] is True
    assert genotypes["predictor"].layers[0].op == op
    exported = model.export_heads()
    assert set(exported) == {"projector", "predictor"}
    state, original = exported["predictor"].state_dict(), model.predictor.state_dict()
    assert state.keys() == original.keys() and all(torch.equal(state[k], original[k]) for k in state)


def test_a_model_without_searchable_heads_has_no_fixed_heads():
    model = framework_class("simsiam")(torch.nn.Identity(), 24, proj_hidden_dim=32, proj_output_dim=32,
                                       pred_hidden_dim=16)
    assert model.fixed_heads() == {} and model.genotypes() == {}


def test_architecture_steps_leave_directpreds_statistics_alone():
    """A weight step (update_state=True) folds the batch into DirectPred's statistics; an
    architecture step on held-out features (update_state=False) must not."""
    model = _model("directpred").train()
    layer = _directpred(model)
    encoded = Encoded(online=[torch.randn(16, 24), torch.randn(16, 24)])
    model.head_loss(encoded, update_state=True)["loss"].backward()
    after_weight_step = (int(layer.updates), layer.correlation.clone(), layer.weight.clone())
    assert after_weight_step[0] == 2   # one update per view
    model.head_loss(Encoded(online=[torch.randn(16, 24), torch.randn(16, 24)]), update_state=False)["loss"].backward()
    assert int(layer.updates) == 2 and torch.equal(layer.correlation, after_weight_step[1])
    assert torch.equal(layer.weight, after_weight_step[2]) and layer.frozen is False   # restored after
    model.head_loss(encoded, update_state=True)
    assert int(layer.updates) == 4


def test_a_predictor_option_for_a_method_without_one_is_refused():
    with pytest.raises(ConfigError, match="simclr has no predictor"):
        load_config(SearchConfig, None, {**OPTIONS, "framework": "simclr", "predictor": "directpred"})
    with pytest.raises(ConfigError, match="predictor"):
        load_config(SearchConfig, None, {**OPTIONS, "predictor": "mlp"})


def test_random_panels_draw_the_projector_and_keep_the_fixed_predictor():
    model = _model("directpred")
    heads = {"projector": model.projector, "predictor": model.predictor}
    panel = draw_panel(heads, 5, random.Random(0))
    assert len({p["projector"].layers for p in panel}) == 5
    assert all(p["predictor"].layers == model.predictor.genotype.layers for p in panel)
    with pytest.raises(ConfigError, match="holds"):
        draw_panel(heads, model.projector.canonical_count() + 1, random.Random(0))


@pytest.mark.slow
def test_search_with_directpred_exports_it_and_pretrain_and_export_use_it(tmp_path, capsys):
    assert main(["search", *TINY, f"--out_dir={tmp_path}", "--run_name=s", "--predictor=directpred"]) == 0
    run = tmp_path / "s"
    saved = json.loads((run / "genotype.json").read_text())
    assert json.dumps(saved).count('"directpred"') >= 1
    predictor = NASHead.from_pretrained(run / "heads" / "predictor")
    layer = next(m for m in predictor.modules() if isinstance(m, DirectPredLinear))
    assert int(layer.updates) > 0   # the statistics of the search's weight steps came with it
    summary = json.loads((run / "summary.json").read_text())
    assert {d["head"] for d in summary["decisions"]} == {"projector"}   # nothing was decided about the predictor
    assert "directpred" in summary["genotypes"]["predictor"] and summary["fixed_heads"] == ["predictor"]
    assert "(fixed by --predictor, not searched)" in capsys.readouterr().out
    # the found head, trained from scratch: the projector searched, DirectPred's predictor fresh
    assert main(["pretrain", *[a for a in TINY if not a.startswith(("--warmup_epochs", "--widths", "--arch_lr"))],
                 f"--out_dir={tmp_path}", "--run_name=p", f"--head={run}"]) == 0
    assert "directpred" in json.loads((tmp_path / "p" / "summary.json").read_text())["heads"]["predictor"]
    # a re-export at another rank keeps the fixed predictor
    assert main(["export", str(run), "--rank=2", f"--out={tmp_path / 'e'}"]) == 0
    assert "directpred" in json.dumps(json.loads((tmp_path / "e" / "genotype.json").read_text()))


def test_compare_draws_its_random_panel_with_the_search_rows_fixed_predictor(tmp_path):
    """The random baseline of `search(--predictor=directpred)` is random projectors with the
    same DirectPred predictor: only what the search chose differs."""
    from nasiam.compare import prepare
    from nasiam.rundir import read_genotypes

    options = {k.split("=")[0].lstrip("-"): k.split("=")[1] for k in TINY
               if not k.startswith(("--widths", "--warmup_epochs", "--arch_lr"))}
    plan, _ = prepare("random:2,search(--predictor=directpred --widths=16,32)", "0,", tmp_path, options)
    for path in plan.random_genotypes.values():
        _, genotypes = read_genotypes(path)
        assert genotypes["predictor"].layers[0].op == "directpred"
        assert genotypes["projector"].layers[-1].fixed   # the projector's output layer; its hidden ones drawn
