"""A method is one class: a toy BYOL-like framework, defined and registered in this file alone,
runs through `nasiam search` and `nasiam pretrain`, and the runner takes what it declares (its
widths, augmentation recipe, zero-init default and predictor rate) from the class, never from
a table of names elsewhere.

Before the framework classes declared these, the runner looked them up by name: an unknown
method had no augmentation recipe (KeyError) and got none of its declared defaults."""
import json

import pytest
import torch
import torch.nn.functional as F
from _runs import TINY

import nasiam.runner.build as build
import nasiam.runner.optim as optim
from nasiam.cli import main
from nasiam.frameworks import FRAMEWORKS, register_framework
from nasiam.frameworks.base import Encoded, HeadSlot, MomentumMixin, SSLFramework
from nasiam.rundir import read_genotypes


class ToyBYOL(MomentumMixin, SSLFramework):
    """BYOL-like (Grill et al. 2020): an online projector and predictor regress the momentum
    branch's projection of the other view; no negatives, no queue."""

    name = "toy_byol"
    augmentation = "simclr"       # declared, not the default: the run must use it
    zero_init_residual = True     # likewise
    fixed_predictor_lr = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_momentum()

    @classmethod
    def head_slots(cls, feature_dim: int, proj_hidden_dim: int = 64, proj_output_dim: int = 32,
                   pred_hidden_dim: int = 64, toy_unused_width: int = 7) -> dict[str, HeadSlot]:
        # `toy_unused_width` is no run option: config_kwargs leaves it at its default
        projector = HeadSlot("projector", feature_dim, proj_output_dim, "simsiam_projector_cifar",
                             {"hidden_dim": proj_hidden_dim, "out_dim": proj_output_dim},
                             output_norm="batchnorm_noaffine")
        predictor = HeadSlot("predictor", proj_output_dim, proj_output_dim, "simsiam_predictor",
                             {"hidden_dim": pred_hidden_dim, "out_dim": proj_output_dim})
        return {"projector": projector, "predictor": predictor}

    def head_loss(self, encoded: Encoded, update_state: bool = True):
        with self.head_context(update_state):
            z1, z2 = (self.projector(f) for f in encoded.online[:2])
            p1, p2 = self.predictor(z1), self.predictor(z2)
            with torch.no_grad():
                target = self._target_projector()
                k1, k2 = (target(f) for f in encoded.target[:2])
            loss = 2 - F.cosine_similarity(p1, k2, dim=-1).mean() - F.cosine_similarity(p2, k1, dim=-1).mean()
            return {"loss": loss, "z": z1.detach()}


@pytest.fixture
def toy(monkeypatch):
    """Registered for the test only; records what the runner asked of it."""
    register_framework(ToyBYOL)
    seen = {"recipes": [], "zero_init": [], "fixed_lr": []}
    recipe, backbone, groups = build.augment_recipe, build.create_backbone, optim.weight_groups

    def spy_recipe(name, *args, **kwargs):
        seen["recipes"].append(name)
        return recipe(name, *args, **kwargs)

    def spy_backbone(*args, **kwargs):
        seen["zero_init"].append(kwargs["zero_init_residual"])
        return backbone(*args, **kwargs)

    def spy_groups(model, fixed, *args, **kwargs):
        seen["fixed_lr"].append(fixed)
        return groups(model, fixed, *args, **kwargs)

    monkeypatch.setattr(build, "augment_recipe", spy_recipe)
    monkeypatch.setattr(build, "create_backbone", spy_backbone)
    monkeypatch.setattr("nasiam.runner.loop.weight_groups", spy_groups)   # Run.setup_optimizers, both commands
    try:
        yield seen
    finally:
        FRAMEWORKS.pop(ToyBYOL.name)


@pytest.mark.slow  # it trains
def test_a_framework_defined_in_one_file_searches_and_pretrains(tmp_path, toy):
    assert main(["search", *TINY, "--framework=toy_byol", f"--out_dir={tmp_path}", "--run_name=s"]) == 0
    framework, genotypes = read_genotypes(tmp_path / "s" / "genotype.json")
    assert framework == "toy_byol" and set(genotypes) == {"projector", "predictor"}
    assert main(["pretrain", *[a for a in TINY if not a.startswith(("--warmup_epochs", "--widths", "--arch_lr"))],
                 "--framework=toy_byol", f"--head={tmp_path / 's'}", "--epochs=1", f"--out_dir={tmp_path}",
                 "--run_name=p"]) == 0
    summary = json.loads((tmp_path / "p" / "summary.json").read_text())
    assert summary["framework"] == "toy_byol"
    # each command took the declared recipe, zero-init default and fixed predictor rate
    assert toy["recipes"] == ["simclr", "simclr"]
    assert toy["zero_init"] == [True, True]
    assert toy["fixed_lr"] == [True, True]


def test_its_widths_come_from_its_own_head_slots():
    from nasiam.config import SearchConfig, load_config

    cfg = load_config(SearchConfig, None, {"proj_hidden_dim": "48", "proj_output_dim": "24", "pred_hidden_dim": "12",
                                           "queue_size": "64", "temperature": "0.5"})
    # the widths it takes, at the run's values; not MoCo's queue or SimCLR's temperature
    assert ToyBYOL.config_kwargs(cfg) == {"proj_hidden_dim": 48, "proj_output_dim": 24, "pred_hidden_dim": 12}
    model = ToyBYOL(torch.nn.Flatten(), 12, **ToyBYOL.config_kwargs(cfg))
    assert model.slots["predictor"].preset_kwargs == {"hidden_dim": 12, "out_dim": 24}
