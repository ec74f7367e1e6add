"""`nasiam pretrain` and `nasiam eval` end to end on synthetic data."""
import json

import pytest
import torch
from _runs import TINY
from safetensors.torch import load_file

from nasiam.cli import main
from nasiam.rundir import genotype_file_sha256, read_genotypes

pytestmark = pytest.mark.slow  # every test here trains or compiles

PRETRAIN = [a for a in TINY if not a.startswith(("--warmup_epochs", "--widths", "--arch_lr"))]


@pytest.fixture(scope="module")
def search_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("search")
    assert main(["search", *TINY, f"--out_dir={out}", "--run_name=s"]) == 0
    return out / "s"


def pretrain(tmp_path, *extra, name="p"):
    return main(["pretrain", *PRETRAIN, f"--out_dir={tmp_path}", f"--run_name={name}", *extra])


def test_pretrain_with_the_default_head(tmp_path, capsys):
    assert pretrain(tmp_path, "--knn_every=1") == 0
    summary = json.loads((tmp_path / "p" / "summary.json").read_text())
    assert summary["heads"]["projector"] == "linear32-batchnorm-relu > linear32-batchnorm_noaffine"
    assert [h["knn_top1"] is not None for h in summary["epochs"]] == [True, True]
    assert (tmp_path / "p" / "knn.png").is_file() and (tmp_path / "p" / "backbone.safetensors").is_file()
    assert "Pretraining finished" in capsys.readouterr().out
    # the end-of-run evaluation: the probe, both kNN settings, its cost, each test image's prediction
    for metric in ("linear_top1", "knn20_top1", "knn200_top1", "knn_top1", "rankme", "eval_seconds"):
        assert summary[metric] is not None, metric
    assert summary["knn_top1"] == summary["epochs"][-1]["knn_top1"]   # the last epoch's kNN, not a second one
    assert summary["environment"]["torch"] == torch.__version__   # what it ran on, for a later reader
    from nasiam.eval.protocol import load_predictions

    predictions = load_predictions(tmp_path / "p" / "eval" / "predictions.safetensors")
    accuracy = float((predictions["linear"] == predictions["labels"]).float().mean()) * 100
    assert accuracy == pytest.approx(summary["linear_top1"])


def test_pretrain_with_the_searched_head_from_scratch(tmp_path, search_run):
    assert pretrain(tmp_path, f"--head={search_run}") == 0
    _, searched = read_genotypes(search_run)
    summary = json.loads((tmp_path / "p" / "summary.json").read_text())
    assert summary["heads"] == {slot: g.describe() for slot, g in searched.items()}
    assert summary["head_sha256"] == genotype_file_sha256(search_run)   # which version of the file it trained
    # from scratch: the backbone does not start from the search's weights
    trained = load_file(tmp_path / "p" / "backbone.safetensors")
    searched_backbone = load_file(search_run / "backbone.safetensors")
    assert not torch.equal(trained["conv1.0.weight"], searched_backbone["conv1.0.weight"])


def test_init_loads_the_preserved_weights(tmp_path, search_run):
    # with a zero learning rate nothing moves but BatchNorm statistics: the saved parameters
    # must equal the search's exactly
    assert pretrain(tmp_path, f"--init={search_run}", "--lr=0", "--weight_decay=0", "--epochs=1") == 0
    run = tmp_path / "p"
    backbone, searched = load_file(run / "backbone.safetensors"), load_file(search_run / "backbone.safetensors")
    params = [k for k in searched if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    assert params and all(torch.equal(backbone[k], searched[k]) for k in params)
    for slot in ("projector", "predictor"):
        head, searched_head = (load_file(d / "heads" / slot / "head.safetensors") for d in (run, search_run))
        # DirectPred's closed form (the siam space's default predictor) is no trained weight: it is
        # recomputed from its input's statistics, which keep updating in pretraining, as documented
        weights = [k for k in searched_head if (k.endswith("weight") or k.endswith("linear.bias"))
                   and "directpred" not in k]
        closed_form_only = slot == "predictor" and all("directpred" in k for k in searched_head)
        assert (weights or closed_form_only) and all(torch.equal(head[k], searched_head[k]) for k in weights)


@pytest.mark.slow
def test_init_from_a_pretraining_run_of_another_method_is_refused(tmp_path, capsys):
    """#33 probe 18, P2: a pretraining run's heads record no framework, so `--init` of a MoCo v3
    pretraining run trained SimSiam from its heads without a word; its config.yaml says mocov3.
    P5: a head recorded as `moco` is mocov2's."""
    from types import SimpleNamespace

    from nasiam.errors import CheckpointError
    from nasiam.runner.pretrain import _check_searched_for

    assert pretrain(tmp_path, "--framework=mocov3", "--epochs=1", name="m3") == 0
    capsys.readouterr()
    assert pretrain(tmp_path, f"--init={tmp_path / 'm3'}", "--epochs=1", name="s") == 2
    assert "was searched for mocov3, not simsiam; pass --framework mocov3" in capsys.readouterr().err
    assert pretrain(tmp_path, "--framework=mocov3", f"--init={tmp_path / 'm3'}", "--epochs=1", name="m3b") == 0
    _check_searched_for(SimpleNamespace(framework="mocov2", head="h.json"), "head", {"moco", None})
    with pytest.raises(CheckpointError, match="was searched for mocov2, not simsiam; pass --framework mocov2"):
        _check_searched_for(SimpleNamespace(framework="simsiam", head="h.json"), "head", {"moco"})


def test_init_and_head_errors(tmp_path, search_run, capsys):
    assert pretrain(tmp_path, f"--init={search_run}", "--backbone=resnet18") == 2
    assert "backbone has name='resnet10t', this run asks for 'resnet18'" in capsys.readouterr().err
    assert pretrain(tmp_path, "--framework=simclr", f"--head={search_run}", name="q") == 2
    assert "was searched for simsiam, not simclr" in capsys.readouterr().err
    assert pretrain(tmp_path, f"--init={tmp_path / 'nothing'}", name="r") == 2
    assert "no backbone.json" in capsys.readouterr().err


def test_eval_protocols_on_a_run_and_on_random_init(tmp_path, search_run, capsys):
    common = ["--num_workers=0", "--bank_subset=256"]
    assert main(["eval", "knn", str(search_run), *common, "--k=20"]) == 0
    assert main(["eval", "linear", str(search_run), *common, "--epochs=10"]) == 2   # a probe solved to convergence
    assert "drop them" in capsys.readouterr().err                                 # has no epochs to set
    assert main(["eval", "linear", str(search_run), *common]) == 0
    linear = json.loads((search_run / "eval" / "linear.json").read_text())
    assert linear["top1"] == linear["linear_top1"] > 10 and linear["bank_images"] == 256
    assert main(["eval", "finetune", str(search_run), "--num_workers=0", "--epochs=1", "--label_fraction=0.1"]) == 0
    knn = json.loads((search_run / "eval" / "knn.json").read_text())
    finetune = json.loads((search_run / "eval" / "finetune_0.1.json").read_text())
    assert knn["top1"] > 10 and finetune["labelled_images"] == 100  # 10 % of each class of ~102 images
    out = tmp_path / "random.json"
    assert main(["eval", "knn", "random", "--dataset=synthetic", "--image_size=16", *common, "--k=20",
                 f"--out={out}"]) == 0
    assert json.loads(out.read_text())["target"] == "random"
    assert main(["eval", "curves", str(search_run), "--out", str(tmp_path / "c.png")]) == 2
    assert "logged no knn_top1 per epoch" in capsys.readouterr().err


def test_pretrain_with_lars(tmp_path):
    assert pretrain(tmp_path, "--framework=simclr", "--optimizer=lars", "--lr=0.3", "--epochs=1") == 0


def test_search_and_pretrain_log_backbone_feature_collapse_per_epoch(tmp_path, search_run):
    assert pretrain(tmp_path) == 0
    for run_dir in (search_run, tmp_path / "p"):
        for epoch in json.loads((run_dir / "summary.json").read_text())["epochs"]:
            assert 0 < epoch["feature_std"] <= 1.01 and epoch["feature_rank"] > 1
            # the backbone's features, not the projector output the other monitor sees
            assert epoch["feature_rank"] != pytest.approx(epoch["effective_rank"])
