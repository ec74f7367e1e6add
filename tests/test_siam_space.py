"""The `siam` space: the predictor family (DirectPred's closed form, a trained linear map, the
method's MLP) as one searched decision, and a projector without a width choice."""
import json

import pytest
import torch
from _runs import TINY

from nasiam.cli import main
from nasiam.config import SearchConfig, load_config
from nasiam.frameworks import framework_class
from nasiam.head import DirectPredLinear, NASHead, SearchableHead
from nasiam.runner.build import framework_kwargs, searchable_heads
from nasiam.runner.optim import weight_groups
from nasiam.search.architect import Encoded
from nasiam.space import Genotype, GenotypeError, MLPSpace, NASiamSpace, SiamSpace

DIM, HIDDEN = 16, 8
OPTIONS = {"dataset": "synthetic", "proj_hidden_dim": "32", "proj_output_dim": "32", "pred_hidden_dim": "16"}


def _predictor(families=("directpred", "linear", "mlp"), output_bias=None) -> SearchableHead:
    torch.manual_seed(0)
    space = SiamSpace(slot="predictor", hidden_dim=HIDDEN, predictors=families)
    return SearchableHead(DIM, DIM, 1, space, output_bias=output_bias).train()


def _closed_form(head) -> DirectPredLinear:
    return next(m for m in head.modules() if isinstance(m, DirectPredLinear))


def _family(head, family: str) -> SearchableHead:
    return head.set_sampling("fixed", decisions=[{"family": family}])


def _batches(n=3):
    generator = torch.Generator().manual_seed(1)
    return [torch.randn(32, DIM, generator=generator) for _ in range(n)]


def _same_statistics(a: DirectPredLinear, b: DirectPredLinear) -> bool:
    return int(a.updates) == int(b.updates) and torch.allclose(a.correlation, b.correlation) and \
        torch.allclose(a.weight, b.weight, atol=1e-6)


def test_one_hot_on_directpred_is_the_fixed_directpred_predictor():
    """Same inputs, same outputs, same statistics as a `DirectPredLinear` on its own."""
    head, reference = _family(_predictor(), "directpred"), DirectPredLinear(DIM).train()
    for x in _batches():
        assert torch.allclose(head(x), reference(x), atol=1e-6)
        assert _same_statistics(_closed_form(head), reference)
    assert int(reference.updates) == 3


@pytest.mark.parametrize("sampling", ["linear", "mlp", "softmax"])
def test_the_closed_form_follows_the_predictors_input_whatever_runs(sampling):
    """Steps that run another candidate (a Gumbel or uniform sample) and soft steps update the
    closed form's statistics from the predictor's input all the same: W stays current for when
    it is chosen or exported, and every DDP rank makes the same all-reduce calls."""
    head, reference = _predictor(), DirectPredLinear(DIM).train()
    if sampling != "softmax":
        _family(head, sampling)
    for x in _batches():
        head(x), reference(x)
        assert _same_statistics(_closed_form(head), reference)
    with torch.no_grad():   # and never outside training forwards
        head(_batches(1)[0])
    head.eval()(_batches(1)[0])
    assert _same_statistics(_closed_form(head), reference)


def _simsiam(space="siam", framework="simsiam", **options):
    torch.manual_seed(0)
    cfg = load_config(SearchConfig, None, {**OPTIONS, "framework": framework, "space": space, **options})
    cls = framework_class(framework)
    backbone = torch.nn.Linear(12, 24)
    return cls(backbone, 24, heads=searchable_heads(cfg, cls, 24, framework_kwargs(cfg)), **framework_kwargs(cfg))


def _encoded(framework="simsiam"):
    views = [torch.randn(16, 24), torch.randn(16, 24)]
    return Encoded(online=views, target=[v.clone() for v in views] if framework == "mocov3" else None)


@pytest.mark.parametrize("framework", ["simsiam", "mocov3"])
def test_architecture_steps_move_the_family_logits_and_leave_the_statistics_alone(framework):
    model = _simsiam(framework=framework).train()
    layer, family = _closed_form(model.predictor), model.predictor.layers[0].arch["family"]
    model.head_loss(_encoded(framework), update_state=True)["loss"].backward()
    assert int(layer.updates) == 2   # one update per view, as the fixed predictor does
    saved = (layer.correlation.clone(), layer.weight.clone())
    family.grad = None
    model.head_loss(_encoded(framework), update_state=False)["loss"].backward()   # what an architecture step runs
    assert family.grad is not None and family.grad.abs().sum() > 0
    assert int(layer.updates) == 2 and torch.equal(layer.correlation, saved[0]) and torch.equal(layer.weight, saved[1])


@pytest.mark.parametrize("sampling", ["directpred", "linear", "mlp", "softmax"])
def test_gradients_reach_the_projector_through_every_candidate(sampling):
    head = _predictor()
    if sampling != "softmax":
        _family(head, sampling)
    x = torch.randn(32, DIM, requires_grad=True)
    head(x).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_the_trained_candidates_take_the_predictors_learning_rate_rule():
    model = _simsiam()
    groups = weight_groups(model, simsiam=True, fix_pred_lr=True)
    predictor_group = {id(p) for p in groups[1]["params"]}
    branches = model.predictor.layers[0].branches
    trained = [p for family in ("linear", "mlp") for p in branches[family].parameters()]
    assert trained and all(id(p) in predictor_group for p in trained) and groups[1]["fixed_lr"]
    assert not list(branches["directpred"].parameters())   # nothing to train: no rate applies
    assert not {id(p) for p in model.arch_parameters()} & predictor_group


@pytest.mark.parametrize("family", ["directpred", "linear", "mlp"])
@pytest.mark.parametrize("output_bias", [None, False])   # SimSiam's output Linear has a bias, MoCo v3's not
def test_one_hot_supernet_and_exported_head_compute_the_same(family, output_bias):
    head = _predictor(output_bias=output_bias)
    for x in _batches():   # move the statistics and the BatchNorm's running estimates
        head(x)
    with torch.no_grad():
        head.layers[0].arch["family"].copy_(torch.tensor([1.0 if f == family else 0.0 for f in head.layers[0].choices["family"]]))
    head.set_sampling("argmax").eval()
    exported = head.export().eval()
    assert exported.genotype.describe() == {"directpred": "directpred", "linear": "linear16",
                                            "mlp": "linear8-batchnorm-relu > linear16"}[family]
    x = torch.randn(32, DIM)
    assert torch.allclose(head(x), exported(x), atol=1e-6)
    if family == "directpred":   # the exported closed form is the search's, statistics and all
        assert _same_statistics(_closed_form(exported), _closed_form(head)) and int(_closed_form(exported).updates) == 3


def test_state_dict_and_saved_head_round_trip(tmp_path):
    head = _predictor()
    for x in _batches():
        head(x)
    clone = _predictor()
    clone.load_state_dict(head.state_dict())
    x = torch.randn(32, DIM)
    head.eval(), clone.eval()
    assert torch.equal(head(x), clone(x)) and _same_statistics(_closed_form(head), _closed_form(clone))
    exported = head.export()
    exported.save_pretrained(tmp_path / "predictor")
    loaded = NASHead.from_pretrained(tmp_path / "predictor").train()
    assert _same_statistics(_closed_form(loaded), _closed_form(head))
    loaded(x)   # and it keeps updating in pretraining
    assert int(_closed_form(loaded).updates) == 4


def test_a_genotype_naming_the_siam_space_validates_and_loads():
    model = _simsiam()
    for slot, genotype in model.genotypes().items():
        loaded = Genotype.from_json(genotype.to_json())
        assert loaded == genotype and loaded.space["name"] == "siam" and loaded.space["slot"] == slot
        NASHead(loaded)   # builds
        assert model.heads()[slot].export(loaded).genotype.layers == genotype.layers
    data = model.genotypes()["predictor"].to_dict()
    data["layers"] = [{"op": "linear", "width": 32, "norm": "batchnorm", "activation": "relu"}]
    with pytest.raises(GenotypeError, match="none of the siam space's predictors"):
        Genotype.from_dict(data)
    data = model.genotypes()["predictor"].to_dict()
    data["space"]["predictors"] = ["directpred", "closed_form"]
    with pytest.raises(GenotypeError, match="space: unknown predictor family 'closed_form'"):
        Genotype.from_dict(data)
    data = model.genotypes()["projector"].to_dict()
    data["layers"][0]["width"] = 64   # the siam projector searches no widths
    with pytest.raises(GenotypeError, match=r"layers\[0\].width: 64 is not in the space's widths \[32\]"):
        Genotype.from_dict(data)


def test_the_framework_api_gives_each_slot_its_own_search():
    model = framework_class("simsiam")(torch.nn.Identity(), 24, heads="search", space="siam", proj_hidden_dim=32,
                                       proj_output_dim=32, pred_hidden_dim=16)
    assert model.projector.space.slot == "projector" and model.projector.space.hidden_dim == 32
    assert model.predictor.space.slot == "predictor" and list(model.predictor.layers[0].choices) == ["family"]


def test_bad_siam_spaces_are_refused():
    with pytest.raises(ValueError, match="one choice among whole predictors, not 2 layers"):
        SearchableHead(DIM, DIM, 2, SiamSpace(slot="predictor"))
    with pytest.raises(ValueError, match="maps its input width to itself"):
        SearchableHead(DIM, 2 * DIM, 1, SiamSpace(slot="predictor"))
    with pytest.raises(ValueError, match="unknown predictor family 'mlp3'"):
        SiamSpace(predictors=("mlp3",))
    with pytest.raises(ValueError, match="a projector or a predictor, not 'head'"):
        SiamSpace(slot="head")


def test_the_old_spaces_search_as_before():
    """--space mlp and --space nasiam build the heads they built before the registry decided."""
    mlp = _simsiam("mlp", widths="16,32")
    assert mlp.projector.space == MLPSpace(widths=(16, 32)) and mlp.predictor.space == MLPSpace(widths=(16, 32))
    assert len(mlp.projector.searchable_layers()) == 1 and len(mlp.predictor.searchable_layers()) == 1
    nasiam = _simsiam("nasiam")
    assert nasiam.projector.space == NASiamSpace() and len(nasiam.projector.searchable_layers()) == 6
    assert nasiam.predictor.space == NASiamSpace(hidden_dim=16) and len(nasiam.predictor.layers) == 4  # no output layer


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["simsiam", "mocov3"])
def test_search_in_the_siam_space_exports_and_pretrains(tmp_path, framework):
    """search -> genotype.json -> pretrain --init (the search's weights) and --head (fresh)."""
    options = [*[a for a in TINY if not a.startswith(("--epochs", "--warmup_epochs"))], "--epochs=1",
               f"--framework={framework}", "--space=siam", f"--out_dir={tmp_path}"]
    assert main(["search", *options, "--warmup_epochs=0", "--run_name=s"]) == 0
    run = tmp_path / "s"
    saved = json.loads((run / "genotype.json").read_text())["heads"]
    assert saved["predictor"]["space"]["name"] == "siam" and saved["predictor"]["decisions"][0].keys() == {"family"}
    summary = json.loads((run / "summary.json").read_text())
    assert {d["choice"] for d in summary["decisions"] if d["head"] == "predictor"} == {"family"}
    assert "width" not in {d["choice"] for d in summary["decisions"]}   # one width: nothing to decide
    pretrain = [a for a in options if not a.startswith(("--warmup_epochs", "--widths", "--arch_lr", "--space"))]
    for name, source in (("i", f"--init={run}"), ("h", f"--head={run}")):
        assert main(["pretrain", *pretrain, f"--run_name={name}", source, "--linear_probe=false"]) == 0
        heads = json.loads((tmp_path / name / "summary.json").read_text())["heads"]
        assert heads["predictor"] == Genotype.from_dict(saved["predictor"]).describe()
