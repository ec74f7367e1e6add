import copy
import re

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from _heads_run import make_search_run

from nasiam import NASHead
from nasiam.integrations import HeadMismatchError, head_dims, swap_head, swap_heads
from nasiam.presets import create_head


def facebook_simsiam(dim=128, pred_dim=32):
    """A model laid out like facebookresearch/simsiam's builder: the encoder is a torchvision
    ResNet whose `fc` became the projector, plus `predictor`."""
    torchvision = pytest.importorskip("torchvision")
    encoder = torchvision.models.resnet18(num_classes=dim, zero_init_residual=True)
    prev = encoder.fc.weight.shape[1]
    encoder.fc = nn.Sequential(nn.Linear(prev, prev, bias=False), nn.BatchNorm1d(prev), nn.ReLU(inplace=True),
                               nn.Linear(prev, prev, bias=False), nn.BatchNorm1d(prev), nn.ReLU(inplace=True),
                               encoder.fc, nn.BatchNorm1d(dim, affine=False))
    model = nn.Module()
    model.encoder = encoder
    model.predictor = nn.Sequential(nn.Linear(dim, pred_dim, bias=False), nn.BatchNorm1d(pred_dim),
                                    nn.ReLU(inplace=True), nn.Linear(pred_dim, dim))
    return model


def simsiam_step(model, x1, x2):
    z1, z2 = model.encoder(x1), model.encoder(x2)
    p1, p2 = model.predictor(z1), model.predictor(z2)
    loss = -(F.cosine_similarity(p1, z2.detach()).mean() + F.cosine_similarity(p2, z1.detach()).mean()) / 2
    loss.backward()
    return loss


@pytest.mark.slow
def test_facebook_simsiam_three_line_swap_trains(tmp_path):
    run = make_search_run(tmp_path / "run", in_dim=512, out_dim=128, pred_hidden=32)
    model = facebook_simsiam()
    swap_head(model, "encoder.fc", NASHead.from_pretrained(run / "heads" / "projector"))
    swap_head(model, "predictor", NASHead.from_pretrained(run / "heads" / "predictor"))
    assert isinstance(model.encoder.fc, NASHead) and isinstance(model.predictor, NASHead)
    loss = simsiam_step(model, torch.randn(4, 3, 32, 32), torch.randn(4, 3, 32, 32))
    assert torch.isfinite(loss) and model.encoder.fc[0].linear.weight.grad is not None


def test_swap_head_mismatch_errors_name_the_fix():
    model = facebook_simsiam()
    with pytest.raises(HeadMismatchError, match=r"receives 512 features but the new head takes 2048.*in_dim=512"):
        swap_head(model, "encoder.fc", create_head("simsiam_projector", 2048, out_dim=128))
    with pytest.raises(HeadMismatchError, match=r"must output 128 features .* outputs 2048.*head.resized\(out_dim=128\)"
                                                r".*nasiam export RUN --out DIR --proj_output_dim 128"):
        swap_head(model, "encoder.fc", create_head("simsiam_projector", 512))
    with pytest.raises(HeadMismatchError, match="has no submodule 'encoder.fcc'"):
        swap_head(model, "encoder.fcc", create_head("simsiam_projector", 512, out_dim=128))
    assert not isinstance(model.encoder.fc, NASHead)  # nothing changed


@pytest.mark.parametrize("path, kind", [("training", "bool"), ("forward", "method"), ("__class__", "type")])
def test_swap_head_refuses_an_attribute_that_is_not_a_submodule(path, kind):
    """#33 probe 12, I4: with in_dim and out_dim given, `swap_head(model, 'training', ...)` returned
    the bool and registered the head as an extra child (an nn.Sequential then ran it as a layer)."""
    model = nn.Sequential(nn.Linear(16, 16), nn.Linear(16, 8))
    with pytest.raises(HeadMismatchError, match=f"has no submodule {path!r} \\({path!r} is {kind}, not a submodule\\)"
                                                ".*it has 0, 1. Pass the dotted path"):
        swap_head(model, path, create_head("simsiam_projector", 16, out_dim=8), in_dim=16, out_dim=8)
    assert list(model._modules) == ["0", "1"] and model.training is True
    model.eval()


def test_swap_head_names_a_head_that_is_not_a_module_and_swap_heads_a_path_inside_another():
    """#33 probe 13: a Genotype as the head failed with a raw AttributeError ('Genotype' object has
    no attribute 'to', J5); '0' and '0.0' were both checked against the unchanged model, then the
    inner swap went into the module the outer one had just taken out (J7)."""
    from nasiam import SearchableHead

    inner = nn.Sequential(nn.Linear(16, 16))
    model = nn.Sequential(inner, nn.ReLU())
    with pytest.raises(TypeError, match="the head for '0' is Genotype, not an nn.Module; build one first"):
        swap_head(model, "0", SearchableHead(16, 16).genotype(), in_dim=16, out_dim=16)
    with pytest.raises(HeadMismatchError, match="'0.0' lies inside '0', which is replaced too"):
        swap_heads(model, {"0": nn.Linear(16, 16), "0.0": nn.Linear(16, 16)})
    assert model[0] is inner and isinstance(inner[0], nn.Linear)


def test_swap_heads_checks_all_before_applying_any():
    model = facebook_simsiam()
    good = create_head("simsiam_projector", 512, out_dim=128)
    bad = create_head("simsiam_predictor", 64, out_dim=128)
    with pytest.raises(HeadMismatchError, match="'predictor' receives 128 features"):
        swap_heads(model, {"encoder.fc": good, "predictor": bad})
    assert not isinstance(model.encoder.fc, NASHead)
    old = swap_heads(model, {"encoder.fc": good, "predictor": create_head("simsiam_predictor", 128, hidden_dim=16,
                                                                             out_dim=128)})
    assert set(old) == {"encoder.fc", "predictor"} and isinstance(model.predictor, NASHead)


def test_head_dims():
    assert head_dims(nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 7))) == (3, 7)
    assert head_dims(create_head("mocov2_projector", 16)) == (16, 128)
    assert head_dims(nn.ReLU()) == (None, None)


def test_any_model_with_head_attributes(tmp_path):
    run = make_search_run(tmp_path / "run", in_dim=16, out_dim=8, pred_hidden=4, predictor=False)
    model = nn.Module()
    model.backbone, model.head = nn.Linear(10, 16), nn.Sequential(nn.Linear(16, 8))
    swap_head(model, "head", NASHead.from_pretrained(run / "heads" / "projector"))
    assert model.head(model.backbone(torch.randn(3, 10))).shape == (3, 8)


# -- lightly ----------------------------------------------------------------------------
@pytest.mark.slow
def test_lightly_simsiam_recipe_trains_with_swapped_heads(tmp_path):
    pytest.importorskip("lightly")
    import torchvision
    from lightly.loss import NegativeCosineSimilarity
    from lightly.models.modules import SimSiamPredictionHead, SimSiamProjectionHead
    from lightly.transforms import SimSiamTransform

    from nasiam.integrations.lightly import replace_heads

    class SimSiam(nn.Module):  # lightly's documented SimSiam model
        def __init__(self, backbone):
            super().__init__()
            self.backbone = backbone
            self.projection_head = SimSiamProjectionHead(512, 512, 128)
            self.prediction_head = SimSiamPredictionHead(128, 64, 128)

        def forward(self, x):
            f = self.backbone(x).flatten(start_dim=1)
            z = self.projection_head(f)
            p = self.prediction_head(z)
            return z.detach(), p

    resnet = torchvision.models.resnet18()
    model = SimSiam(nn.Sequential(*list(resnet.children())[:-1]))
    run = make_search_run(tmp_path / "run", in_dim=512, out_dim=128, pred_hidden=64)
    replace_heads(model, run)
    assert isinstance(model.projection_head, NASHead) and isinstance(model.prediction_head, NASHead)
    torch.testing.assert_close(model.projection_head[-1].linear.weight,
                               NASHead.from_pretrained(run / "heads" / "projector")[-1].linear.weight)

    from PIL import Image

    transform = SimSiamTransform(input_size=32)
    images = [Image.fromarray((torch.rand(40, 40, 3) * 255).byte().numpy()) for _ in range(8)]
    criterion = NegativeCosineSimilarity()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.06)
    for _ in range(2):
        views = [transform(img) for img in images]
        x0, x1 = torch.stack([v[0] for v in views]), torch.stack([v[1] for v in views])
        z0, p0 = model(x0)
        z1, p1 = model(x1)
        loss = 0.5 * (criterion(z0, p1) + criterion(z1, p0))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert torch.isfinite(loss)


def test_lightly_moco_momentum_copy_is_rebuilt_and_genotypes_fit_the_model(tmp_path):
    pytest.importorskip("lightly")
    from lightly.models.modules import MoCoProjectionHead

    from nasiam.integrations.lightly import replace_heads

    model = nn.Module()
    model.projection_head = MoCoProjectionHead(512, 512, 128)
    model.projection_head_momentum = copy.deepcopy(model.projection_head)
    run = make_search_run(tmp_path / "run", in_dim=256, out_dim=128, pred_hidden=64, framework="mocov2",
                          predictor=False)
    replace_heads(model, run / "genotype.json")  # architectures only: rebuilt for 512 inputs
    assert model.projection_head.in_dim == 512
    assert isinstance(model.projection_head_momentum, NASHead)
    assert not any(p.requires_grad for p in model.projection_head_momentum.parameters())
    with pytest.raises(ValueError, match="nothing to replace"):
        replace_heads(nn.Linear(2, 2), run)


def test_replace_heads_names_a_mapping_value_that_is_not_a_head():
    """#33 probe 12, I5: `replace_heads(model, {'projector': 5})` was a raw AttributeError."""
    from nasiam.integrations.lightly import load_head_sources, replace_heads

    model = nn.Module()
    model.projection_head = nn.Sequential(nn.Linear(16, 16), nn.Linear(16, 8))
    for call in (lambda: replace_heads(model, {"projector": 5}), lambda: load_head_sources({"projector": 5})):
        with pytest.raises(TypeError, match=r"source\['projector'\] is int; pass an nn.Module, a Genotype or a run"):
            call()
    assert isinstance(model.projection_head, nn.Sequential)


@pytest.mark.parametrize("suffix", ["", "_head"])
def test_replace_heads_refuses_a_momentum_suffix_that_names_a_swapped_head(suffix):
    """#33 probe 14, K8: `momentum_suffix=""` made each head its own "momentum copy": the model's
    projection_head became a frozen deep copy (requires_grad False) and the returned mapping named
    a head the model no longer held. Refused before anything is swapped."""
    from nasiam import SearchableHead
    from nasiam.integrations.lightly import replace_heads

    model = nn.Module()
    model.projection_head = original = nn.Sequential(nn.Linear(32, 16), nn.Linear(16, 16))
    model.projection = nn.Sequential(nn.Linear(32, 16), nn.Linear(16, 16))
    head = NASHead.from_genotype(SearchableHead(32, 16).genotype(), 32)
    slots = {"projection": "projector", "projection_head": "predictor"}
    with pytest.raises(ValueError, match=f"momentum_suffix='{suffix}' names 'projection(_head)?' a momentum copy"):
        replace_heads(model, {"projector": head, "predictor": copy.deepcopy(head)}, slots=slots,
                      momentum_suffix=suffix)
    assert model.projection_head is original
    with pytest.raises(ValueError, match="momentum_suffix must be the suffix .* got None"):
        replace_heads(model, {"projector": head}, momentum_suffix=None)


def test_replace_heads_leaves_a_model_head_that_is_none_as_absent():
    """#33 probe 13, J6: a lightly model whose `projection_head` is None (a model built without
    that head) was a raw AttributeError from measuring it. It is left None, as a head the model
    does not have (its forward skips it); with nothing else to replace, the error names it."""
    from nasiam import SearchableHead
    from nasiam.integrations.lightly import replace_heads

    genotype = SearchableHead(16, 16).genotype()
    heads = {"projector": NASHead.from_genotype(genotype, 16), "predictor": NASHead.from_genotype(genotype, 16)}
    model = nn.Module()
    model.projection_head, model.prediction_head = None, nn.Sequential(nn.Linear(16, 8), nn.Linear(8, 16))
    swapped = replace_heads(model, heads)
    assert list(swapped) == ["prediction_head"] and model.projection_head is None
    assert model.prediction_head is swapped["prediction_head"]
    alone = nn.Module()
    alone.projection_head = None
    with pytest.raises(ValueError, match=r"nothing to replace: .* \(model.projection_head is None: no head there to "
                                         r"replace\)"):
        replace_heads(alone, heads)
    assert alone.projection_head is None


# A run laid out as the default `nasiam search` leaves it: resnet10t's 512 features in, the
# CPU demo's 512-wide projector output (lightly's SimSiam example wants 128, solo-learn's 2048).
DEFAULT_RUN = dict(in_dim=512, out_dim=512, pred_hidden=128)


def lightly_simsiam_heads(hidden, out, pred_hidden):
    from lightly.models.modules import SimSiamPredictionHead, SimSiamProjectionHead

    model = nn.Module()
    model.projection_head = SimSiamProjectionHead(512, hidden, out)
    model.prediction_head = SimSiamPredictionHead(out, pred_hidden, out)
    return model


@pytest.mark.parametrize("hidden,out,pred_hidden", [(512, 128, 64), (2048, 2048, 512)],
                         ids=["lightly-example", "solo-learn-cifar"])
def test_a_default_search_genotype_drops_into_lightly_simsiam_at_its_widths(tmp_path, hidden, out, pred_hidden):
    pytest.importorskip("lightly")
    from lightly.loss import NegativeCosineSimilarity

    from nasiam.integrations.lightly import replace_heads
    from nasiam.rundir import read_genotypes

    run = make_search_run(tmp_path / "run", **DEFAULT_RUN)
    _, searched = read_genotypes(run / "genotype.json")
    model = lightly_simsiam_heads(hidden, out, pred_hidden)
    replace_heads(model, run / "genotype.json")
    projector, predictor = model.projection_head, model.prediction_head
    assert (projector.in_dim, projector.out_dim, predictor.in_dim, predictor.out_dim) == (512, out, out, out)
    for head, genotype in ((projector, searched["projector"]), (predictor, searched["predictor"])):
        assert head.genotype.layers[:-1] == genotype.layers[:-1]  # the searched hidden layers, as searched
        assert head.genotype.layers[-1].fixed and head.genotype.meta["resized_from"]["out_dim"] == 512
    torch.manual_seed(0)
    z = projector(torch.randn(8, 512))
    loss = NegativeCosineSimilarity()(predictor(z), z.detach())
    loss.backward()
    assert torch.isfinite(loss) and projector[0].linear.weight.grad is not None


def test_a_default_search_genotype_drops_into_lightly_moco(tmp_path):
    pytest.importorskip("lightly")
    from lightly.models.modules import MoCoProjectionHead

    from nasiam.integrations.lightly import replace_heads

    model = nn.Module()
    model.projection_head = MoCoProjectionHead(512, 2048, 128)
    model.projection_head_momentum = copy.deepcopy(model.projection_head)
    run = make_search_run(tmp_path / "run", **DEFAULT_RUN, framework="mocov2", predictor=False)
    replace_heads(model, run / "genotype.json")
    assert model.projection_head.out_dim == model.projection_head_momentum.out_dim == 128


def test_searched_weights_at_other_widths_are_refused_with_the_command_that_fits_them(tmp_path):
    pytest.importorskip("lightly")
    from nasiam.integrations.lightly import replace_heads

    run = make_search_run(tmp_path / "run", **DEFAULT_RUN)
    model = lightly_simsiam_heads(512, 128, 64)
    with pytest.raises(HeadMismatchError) as error:
        replace_heads(model, run)
    message = str(error.value)
    assert "projection_head takes 512 features and must give 128" in message and "gives 512" in message
    assert f"`nasiam export {run} --out {run}-out128 --proj_output_dim 128`" in message
    assert str(run / "genotype.json") in message and "out_dim=" not in message
    assert not isinstance(model.projection_head, NASHead)  # nothing changed
    # another backbone width: no export makes the weights fit, the architecture still does
    wide = nn.Module()
    wide.projection_head = type(model.projection_head)(2048, 512, 512)
    with pytest.raises(HeadMismatchError, match=r"none of them fit a 2048-d backbone\. Pass .*genotype\.json"):
        replace_heads(wide, run)


class SoloSimSiamLayout(nn.Module):
    """Stand-in for solo-learn's `SimSiam` (GitHub-only): its heads exactly as
    solo/methods/simsiam.py builds them from the config, on a resnet18's 512 features."""

    def __init__(self, cfg):
        super().__init__()
        self.features_dim = 512
        hidden, out, pred = (cfg.method_kwargs[k] for k in ("proj_hidden_dim", "proj_output_dim", "pred_hidden_dim"))
        self.projector = nn.Sequential(
            nn.Linear(512, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(),
            nn.Linear(hidden, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(),
            nn.Linear(hidden, out), nn.BatchNorm1d(out, affine=False))
        self.predictor = nn.Sequential(nn.Linear(out, pred, bias=False), nn.BatchNorm1d(pred), nn.ReLU(),
                                       nn.Linear(pred, out))

    @staticmethod
    def add_and_assert_specific_cfg(cfg):
        return cfg


def test_solo_learn_adapter_fits_a_default_search_to_solo_learns_cifar_widths(tmp_path):
    pytest.importorskip("omegaconf")
    from nasiam.integrations.solo_learn import nas_method

    run = make_search_run(tmp_path / "run", **DEFAULT_RUN)
    dims = dict(proj_hidden_dim=2048, proj_output_dim=2048, pred_hidden_dim=512)  # scripts/pretrain/cifar/simsiam.yaml
    model = nas_method(SoloSimSiamLayout)(solo_cfg("nas_simsiam", **dims, nas_heads=str(run), nas_init_weights=False))
    assert (model.projector.in_dim, model.projector.out_dim, model.predictor.out_dim) == (512, 2048, 2048)
    command = f"`nasiam export {run} --out {run}-out2048 --proj_output_dim 2048`"
    with pytest.raises(HeadMismatchError, match=re.escape(command)):
        nas_method(SoloSimSiamLayout)(solo_cfg("nas_simsiam", **dims, nas_heads=str(run), nas_init_weights=True))


# -- solo-learn ---------------------------------------------------------------------------
def solo_cfg(method, **method_kwargs):
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({
        "name": "test", "method": method, "backbone": {"name": "resnet18"},
        "data": {"dataset": "custom", "train_path": ".", "val_path": ".", "format": "image_folder",
                 "num_workers": 0, "num_large_crops": 2, "num_small_crops": 0, "num_classes": 10},
        "optimizer": {"name": "sgd", "batch_size": 4, "lr": 0.1, "classifier_lr": 0.1, "weight_decay": 1e-5,
                      "kwargs": {"momentum": 0.9}},
        "scheduler": {"name": "warmup_cosine"}, "checkpoint": {"enabled": False},
        "auto_resume": {"enabled": False}, "max_epochs": 1, "devices": 1, "accelerator": "cpu", "num_nodes": 1,
        "momentum": {"base_tau": 0.99, "final_tau": 1.0}, "method_kwargs": method_kwargs})
    OmegaConf.set_struct(cfg, False)
    return cfg


@pytest.mark.parametrize("method", ["simsiam", "simclr", "mocov2plus", "mocov3"])
def test_solo_learn_methods_take_nas_heads(tmp_path, method):
    pytest.importorskip("solo.methods", reason="solo-learn is not installed (it is GitHub-only)")
    from nasiam.integrations.solo_learn import register

    methods = register()
    dims = {"simsiam": dict(proj_hidden_dim=64, proj_output_dim=32, pred_hidden_dim=16),
            "simclr": dict(proj_hidden_dim=64, proj_output_dim=32, temperature=0.2),
            "mocov2plus": dict(proj_hidden_dim=64, proj_output_dim=32, temperature=0.2, queue_size=64),
            "mocov3": dict(proj_hidden_dim=64, proj_output_dim=32, pred_hidden_dim=64, temperature=0.2)}[method]
    has_predictor = method in ("simsiam", "mocov3")
    run = make_search_run(tmp_path / "run", in_dim=512, out_dim=32, pred_hidden=16, predictor=has_predictor)
    cfg = solo_cfg(f"nas_{method}", **dims, nas_heads=str(run), nas_init_weights=True)
    cls = methods[f"nas_{method}"]
    cfg = cls.add_and_assert_specific_cfg(cfg)
    model = cls(cfg)
    assert isinstance(model.projector, NASHead)
    torch.testing.assert_close(model.projector[-1].linear.weight,
                               NASHead.from_pretrained(run / "heads" / "projector")[-1].linear.weight)
    if hasattr(model, "momentum_projector"):
        for a, b in zip(model.projector.parameters(), model.momentum_projector.parameters()):
            torch.testing.assert_close(a, b)
            assert not b.requires_grad
    assert any(p is model.projector[0].linear.weight for g in model.learnable_params for p in g["params"])
    batch = [torch.arange(4), [torch.randn(4, 3, 32, 32), torch.randn(4, 3, 32, 32)], torch.randint(0, 10, (4,))]
    loss = model.training_step(batch, 0)
    loss.backward()
    assert torch.isfinite(loss) and model.projector[0].linear.weight.grad is not None


def test_solo_learn_adapter_requires_nas_heads():
    pytest.importorskip("solo.methods", reason="solo-learn is not installed (it is GitHub-only)")
    from nasiam.integrations.solo_learn import register

    cls = register()["nas_simsiam"]
    with pytest.raises(ValueError, match="nas_heads is missing"):
        cls.add_and_assert_specific_cfg(solo_cfg("nas_simsiam", proj_hidden_dim=8, proj_output_dim=8,
                                                 pred_hidden_dim=8))


@pytest.mark.slow
def test_the_solo_learn_launcher_runs_a_script_of_an_uninstalled_checkout_from_anywhere(tmp_path):
    """`python -m nasiam.integrations.solo_learn /path/main_pretrain.py` from another folder finds
    the checkout's `solo` package as `python /path/main_pretrain.py` would (a stand-in checkout:
    solo-learn itself is GitHub-only)."""
    import subprocess
    import sys
    import textwrap

    checkout = tmp_path / "solo-learn"
    (checkout / "solo" / "methods").mkdir(parents=True)
    (checkout / "solo" / "__init__.py").write_text("")
    (checkout / "solo" / "methods" / "__init__.py").write_text(textwrap.dedent("""
        class _Base:
            @staticmethod
            def add_and_assert_specific_cfg(cfg):
                return cfg
        SimSiam = SimCLR = MoCoV2Plus = MoCoV3 = _Base
        METHODS = {"simsiam": SimSiam}
    """))
    (checkout / "main_pretrain.py").write_text(textwrap.dedent("""
        import sys
        from solo.methods import METHODS
        print("registered:", sorted(k for k in METHODS if k.startswith("nas_")), "args:", sys.argv[1:])
    """))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run([sys.executable, "-m", "nasiam.integrations.solo_learn", str(checkout / "main_pretrain.py"),
                             "method=nas_simsiam"], cwd=elsewhere, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "registered: ['nas_mocov2plus', 'nas_mocov3', 'nas_simclr', 'nas_simsiam'] args: ['method=nas_simsiam']" \
        in result.stdout


# -- arguments named, as the other public functions name theirs (the nineteenth probe of #33) --------
def test_lightly_replace_heads_names_a_wrong_source_or_slots(tmp_path, monkeypatch):
    from nasiam.integrations.lightly import replace_heads

    run = make_search_run(tmp_path / "run", in_dim=12, out_dim=8, pred_hidden=6)
    model = nn.Module()
    model.projection_head = nn.Sequential(nn.Linear(12, 8))
    # a run's heads/ folder: was "no genotype file at RUN/heads/genotype.json", no word of the run folder
    with pytest.raises(FileNotFoundError, match=rf"is a run's heads/ folder: pass the run folder {re.escape(str(run))},"):
        replace_heads(model, run / "heads")
    # "" read ./genotype.json of the working folder: a genotype there must not be taken
    monkeypatch.chdir(run)
    with pytest.raises(ValueError, match="source is empty: pass a search run directory or a genotype.json"):
        replace_heads(model, "")
    for wrong in (None, 5):   # pathlib's raw TypeError, naming no argument
        with pytest.raises(ValueError, match=r"source must be a search run directory or a genotype.json \(a path\)"):
            replace_heads(model, wrong)
    with pytest.raises(ValueError, match=r"slots must be a mapping \{model attribute: nasiam slot\}"):
        replace_heads(model, run, slots=["projection_head"])   # was "'list' object has no attribute 'items'"
    assert isinstance(model.projection_head, nn.Sequential)   # nothing changed


@pytest.mark.parametrize("word, keeps", [("no", False), ("false", False), ("off", False), ("0", False),
                                         (False, False), ("yes", True), ("true", True), (True, True)])
def test_solo_learn_nas_init_weights_reads_words_as_nasiam_does(tmp_path, word, keeps):
    """Hydra gives `+method_kwargs.nas_init_weights=no` as the string 'no': `bool` read it as
    true and kept the searched weights unasked (Q4)."""
    pytest.importorskip("omegaconf")
    from nasiam.integrations.solo_learn import nas_method

    run = make_search_run(tmp_path / "run", in_dim=512, out_dim=32, pred_hidden=16)
    dims = dict(proj_hidden_dim=64, proj_output_dim=32, pred_hidden_dim=16)
    model = nas_method(SoloSimSiamLayout)(solo_cfg("nas_simsiam", **dims, nas_heads=str(run), nas_init_weights=word))
    searched = NASHead.from_pretrained(run / "heads" / "projector")[-1].linear.weight
    assert torch.equal(model.projector[-1].linear.weight, searched) is keeps


@pytest.mark.parametrize("options, message", [
    (dict(nas_init_weights="maybe"), r"method_kwargs.nas_init_weights must be true or false \(or yes/no, on/off, "
                                     r"1/0\), got 'maybe': write \+method_kwargs.nas_init_weights=true or false"),
    (dict(nas_heads=5), r"method_kwargs.nas_heads must be a search run directory or a genotype.json \(a path\)"),
    (dict(nas_heads=["runs/x"]), r"method_kwargs.nas_heads must be a search run directory or a genotype.json"),
], ids=["maybe", "heads-int", "heads-list"])
def test_solo_learn_options_of_a_wrong_kind_are_named(tmp_path, options, message):
    pytest.importorskip("omegaconf")
    from nasiam.integrations.solo_learn import nas_method

    run = make_search_run(tmp_path / "run", in_dim=512, out_dim=32, pred_hidden=16)
    dims = dict(proj_hidden_dim=64, proj_output_dim=32, pred_hidden_dim=16)
    with pytest.raises(ValueError, match=message):
        nas_method(SoloSimSiamLayout)(solo_cfg("nas_simsiam", **dims, **{"nas_heads": str(run), **options}))


def test_the_solo_learn_launcher_without_solo_learn_says_to_install_it(tmp_path, monkeypatch):
    import sys

    from nasiam.integrations.solo_learn import main

    script = tmp_path / "main_pretrain.py"
    script.write_text("raise SystemExit('not run')\n")
    monkeypatch.setitem(sys.modules, "solo", None)   # not installed, wherever this test runs
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    with pytest.raises(SystemExit) as raised:   # was a ModuleNotFoundError traceback "No module named 'solo'"
        main([str(script), "method=nas_simsiam"])
    assert re.match(rf"solo-learn is not installed \(no module 'solo(\.methods)?'\) and {re.escape(str(script))} is "
                    "not in a solo-learn checkout: install solo-learn", str(raised.value))
