"""The weight optimiser of every training command, its parameter groups and its schedule.

`nasiam search` and `nasiam pretrain` train the weights alike (the search adds the logits'
own optimiser, `nasiam.search.ArchitectureOptimizer`), so both build them here.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from nasiam.config import RunConfig
from nasiam.search import warmup_cosine_lr

__all__ = ["base_lr", "weight_groups", "weight_optimizer", "set_scheduled_lr"]


def base_lr(cfg: RunConfig) -> float:
    """--lr scaled by the global batch (all ranks of all nodes) over 256: the linear rule."""
    return cfg.lr * cfg.batch_size * cfg.world_size / 256


def weight_groups(model: nn.Module, simsiam: bool, fix_pred_lr: bool,
                  pred_lr_mult: float = 1.0) -> list[dict[str, Any]]:
    """The model's weights (never the logits), with the predictor in a group of its own: at a
    constant learning rate when `fix_pred_lr` and the method fixes it (the first argument: the
    class's `fixed_predictor_lr`, SimSiam's, Chen & He 2021, section 4.4), and at
    `pred_lr_mult` times the others' rate (any framework with a predictor)."""
    weights = model.weight_parameters()
    predictor = {id(p) for p in getattr(model, "predictor", nn.Identity()).parameters()}
    fixed = fix_pred_lr and simsiam
    apart = fixed or pred_lr_mult != 1.0
    return [{"params": [p for p in weights if not (apart and id(p) in predictor)]},
            {"params": [p for p in weights if apart and id(p) in predictor], "fixed_lr": fixed,
             "lr_scale": pred_lr_mult}]


def weight_optimizer(cfg: RunConfig, groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
    """--optimizer (sgd, lars or adamw) over the non-empty `groups`, at the base learning rate."""
    lr = base_lr(cfg)
    groups = [{"params": g["params"], "lr": lr * g.get("lr_scale", 1.0), "fixed_lr": g.get("fixed_lr", False),
               "lr_scale": g.get("lr_scale", 1.0)} for g in groups if g["params"]]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=0.9, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "lars":
        from timm.optim import Lars

        # biases and norm parameters get neither weight decay nor the trust ratio (SimCLR, MoCo v3)
        split = []
        for g in groups:
            split.append({**g, "params": [p for p in g["params"] if p.ndim > 1]})
            split.append({**g, "params": [p for p in g["params"] if p.ndim <= 1], "weight_decay": 0.0})
        return Lars([g for g in split if g["params"]], lr=lr, momentum=0.9, weight_decay=cfg.weight_decay,
                    trust_clip=True)
    return torch.optim.AdamW(groups, lr=lr, weight_decay=cfg.weight_decay)


def set_scheduled_lr(optimizer: torch.optim.Optimizer, cfg: RunConfig, step: int, total_steps: int,
                     steps_per_epoch: int) -> float:
    """Set step `step`'s learning rate (linear warm-up for --warmup_lr_epochs, then cosine to
    0) on every group but the fixed ones, each times its `lr_scale`, and return it."""
    lr = warmup_cosine_lr(base_lr(cfg), step, total_steps, cfg.warmup_lr_epochs * steps_per_epoch)
    for group in optimizer.param_groups:
        group["lr"] = (base_lr(cfg) if group.get("fixed_lr") else lr) * group.get("lr_scale", 1.0)
    return lr
