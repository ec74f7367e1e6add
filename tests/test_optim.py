"""The weight optimiser's groups: SimSiam's constant predictor rate and `--pred_lr_mult`."""
import pytest
import torch

from nasiam.config import ConfigError, PretrainConfig, load_config
from nasiam.frameworks import MoCoV3, SimSiam
from nasiam.runner.optim import base_lr, set_scheduled_lr, weight_groups, weight_optimizer


def _simsiam():
    return SimSiam(torch.nn.Flatten(), 12, proj_hidden_dim=16, proj_output_dim=16, pred_hidden_dim=8, proj_layers=2)


def _lrs(model, cfg, simsiam, step=50, total=100):
    groups = weight_groups(model, simsiam, cfg.fix_pred_lr, cfg.pred_lr_mult)
    optimizer = weight_optimizer(cfg, groups)
    set_scheduled_lr(optimizer, cfg, step, total, steps_per_epoch=10)
    predictor = {id(p) for p in model.predictor.parameters()}
    by_kind = {}
    for group in optimizer.param_groups:
        kinds = {id(p) in predictor for p in group["params"]}
        assert len(kinds) == 1, "a group mixes predictor and other weights"
        by_kind["predictor" if kinds.pop() else "rest"] = group["lr"]
    return by_kind


def test_simsiam_predictor_rate_is_constant_and_scaled_by_the_multiplier():
    cfg = load_config(PretrainConfig, None, {"lr": "0.1", "batch_size": "256", "pred_lr_mult": "10"})
    lrs = _lrs(_simsiam(), cfg, simsiam=True)
    assert lrs["predictor"] == pytest.approx(10 * base_lr(cfg))          # fixed: not decayed, times 10
    assert lrs["rest"] == pytest.approx(0.5 * base_lr(cfg), rel=1e-6)    # cosine at half way


def test_the_multiplier_follows_the_schedule_where_the_rate_is_not_fixed():
    cfg = load_config(PretrainConfig, None, {"lr": "0.1", "batch_size": "256", "pred_lr_mult": "0.5",
                                             "fix_pred_lr": "false"})
    lrs = _lrs(_simsiam(), cfg, simsiam=True)
    assert lrs["predictor"] == pytest.approx(0.5 * lrs["rest"])
    moco = MoCoV3(torch.nn.Flatten(), 12, proj_hidden_dim=16, proj_output_dim=8, pred_hidden_dim=16)
    lrs = _lrs(moco, load_config(PretrainConfig, None, {"pred_lr_mult": "3"}), simsiam=False)
    assert lrs["predictor"] == pytest.approx(3 * lrs["rest"])


def test_without_a_multiplier_other_frameworks_keep_one_group():
    moco = MoCoV3(torch.nn.Flatten(), 12, proj_hidden_dim=16, proj_output_dim=8, pred_hidden_dim=16)
    optimizer = weight_optimizer(PretrainConfig(), weight_groups(moco, False, True, 1.0))
    assert len(optimizer.param_groups) == 1


def test_a_negative_multiplier_is_refused():
    with pytest.raises(ConfigError, match="pred_lr_mult"):
        load_config(PretrainConfig, None, {"pred_lr_mult": "-1"})
