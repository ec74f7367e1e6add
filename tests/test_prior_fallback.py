"""A decision that does not rise above its noise floor falls back to the best known head's
option (`--below_noise prior`, issue #32 item 2): noise does not get to pick."""
import json

import pytest
import torch
from _runs import TINY

from nasiam.cli import main
from nasiam.frameworks import SimCLR, SimSiam
from nasiam.rundir import read_genotypes
from nasiam.search import fall_back_to_prior


def backbone():
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 16))


def test_the_prior_is_the_standard_head_with_simsiams_best_predictor():
    mlp = SimSiam(backbone(), 16, heads="search", proj_hidden_dim=32, proj_output_dim=32, pred_hidden_dim=16,
                  proj_layers=2)
    prior = mlp.prior_decisions()
    # the standard heads' hidden layers: kept, BatchNorm, ReLU; their widths (32, 16) are not among
    # the space's (512-4096), so width has no prior there
    assert prior == {"projector": [{"keep": True, "norm": "batchnorm", "activation": "relu"}],
                     "predictor": [{"keep": True, "norm": "batchnorm", "activation": "relu"}]}
    wide = SimSiam(backbone(), 16, heads="search", proj_hidden_dim=1024, proj_output_dim=32, pred_hidden_dim=512,
                   proj_layers=2)
    assert [wide.prior_decisions()[slot][0]["width"] for slot in ("projector", "predictor")] == [1024, 512]
    siam = SimSiam(backbone(), 16, heads="search", space="siam", proj_hidden_dim=32, proj_output_dim=32,
                   pred_hidden_dim=16, proj_layers=2)
    assert siam.prior_decisions()["predictor"] == [{"family": "directpred"}]   # DirectPred: SimSiam's best measured
    # a layer beyond the standard head's depth is skipped; SimCLR has no predictor family
    deep = SimCLR(backbone(), 16, heads="search", num_layers={"projector": 2}, proj_hidden_dim=32, proj_output_dim=16)
    assert [layer["keep"] for layer in deep.prior_decisions()["projector"]] == [True, False]


def test_only_decisions_below_the_noise_floor_fall_back():
    rows = [{"head": "p", "layer": 0, "choice": "norm", "option": "none", "probability": 0.9, "above_noise": True},
            {"head": "p", "layer": 0, "choice": "activation", "option": "elu", "probability": 0.2, "above_noise": False,
             "noise_floor": 0.3},
            {"head": "p", "layer": 0, "choice": "width", "option": 64, "probability": 0.3, "above_noise": False}]
    chosen = {"p": [{"norm": "none", "activation": "elu", "width": 64}]}
    decided, records = fall_back_to_prior(rows, chosen, {"p": [{"norm": "batchnorm", "activation": "relu"}]})
    assert decided == {"p": [{"norm": "none", "activation": "relu", "width": 64}]}   # above noise: kept
    assert [(r["choice"], r["argmax"], r["fallback"]) for r in records] == [("activation", "elu", "relu"),
                                                                           ("width", 64, None)]
    assert chosen["p"][0]["activation"] == "elu"   # the input is not changed


@pytest.mark.slow
def test_a_search_exports_the_prior_where_noise_decided(tmp_path):
    """One epoch of architecture steps: most decisions stay below the floor, and each of them
    is exported at the prior's option; the argmax is kept in genotype.argmax.json."""
    code = main(["search", *TINY, "--space=siam", f"--out_dir={tmp_path}", "--run_name=r", "--below_noise=prior"])
    assert code == 0
    run = tmp_path / "r"
    summary = json.loads((run / "summary.json").read_text())
    fallbacks = summary["selection"]["fallbacks"]
    below = [r for r in summary["decisions"] if not r["above_noise"]]
    assert len(fallbacks) == len(below) > 0
    _, genotypes = read_genotypes(run / "genotype.json")
    for record in fallbacks:
        decision = genotypes[record["head"]].decisions[record["layer"]][record["choice"]][0][0]
        assert decision == (record["fallback"] if record["fallback"] is not None else record["argmax"])
    assert (run / "genotype.argmax.json").is_file()
