"""Choosing the genotype a search exports, when its logits do not decide clearly.

DARTS ends by taking the argmax of each decision's logits. With SSL losses the logits move
little, and a decision whose best option has p = 0.34 against a uniform 0.25 is a weak
decision (Wang et al., ICLR 2021, "Rethinking architecture selection in differentiable
NAS"). `verify` shortlists the supernet's `top_k` most probable distinct architectures,
trains each briefly from the shared weights (a copy of the search's backbone and the
candidate's heads exported from the supernet), and keeps the one whose backbone features
have the highest RankMe (Garrido et al. 2023) on held-out images: a label-free score, since
a search must not read labels.

How far each decision rose above noise is `nasiam.search.decisions`' (re-exported here).
"""
from __future__ import annotations

import copy
import itertools
import math
import time
from typing import Any, Mapping

import torch
from torch.utils.data import DataLoader, Subset

from nasiam.eval.knn import extract_features
from nasiam.eval.rankme import rankme
from nasiam.search import warmup_cosine_lr
from nasiam.search.decisions import NEAR_UNIFORM_RATIO, decision_confidence, near_uniform

__all__ = ["decision_confidence", "near_uniform", "joint_candidates", "verify_candidates", "NEAR_UNIFORM_RATIO"]

def joint_candidates(model, k: int, meta: Mapping | None = None) -> list[dict[str, Any]]:
    """`k` distinct architectures of all searchable heads: first the argmax (what DARTS
    exports), then the most probable others (heads are independent: probabilities multiply).

    The argmax is not always the most probable architecture: a skipped layer's probability
    is not split over widths and activations, so near-uniform logits make "skip" jointly
    likelier than any one kept layer. Both kinds belong on the shortlist.
    """
    heads = model.searchable_heads()
    per_head = {slot: head.top_genotypes(k, {"framework": model.name, "slot": slot, **(meta or {})})
                for slot, head in heads.items()}
    argmax = {slot: head.genotype(meta={"framework": model.name, "slot": slot, **(meta or {})})
              for slot, head in heads.items()}
    combos = [{"probability": _probability(heads, argmax), "genotypes": argmax}]
    for choice in itertools.product(*per_head.values()):
        combos.append({"probability": math.prod(g.meta["joint_probability"] for g in choice),
                       "genotypes": dict(zip(per_head, choice))})
    ranked = [combos[0]] + sorted(combos[1:], key=lambda c: -c["probability"])
    distinct, seen = [], set()
    for combo in ranked:
        key = tuple(g.describe() for g in combo["genotypes"].values())
        if key not in seen:
            seen.add(key)
            distinct.append(combo)
    return distinct[:k]


def _probability(heads, genotypes) -> float:
    """Joint probability of one genotype per head under the heads' current logits."""
    p = 1.0
    for slot, head in heads.items():
        for layer_probs, decision in zip(head.probabilities(), head._decisions_from(genotypes[slot])):
            if decision.get("keep") is False:
                p *= layer_probs["keep"][False]
                continue
            for choice, option in decision.items():
                p *= layer_probs[choice][option]
    return p


def verify_candidates(run, candidates: list[dict[str, Any]], epochs: int, samples: int) -> list[dict[str, Any]]:
    """Train each candidate for `epochs` epochs of the weight loader from the search's weights
    and score RankMe of its backbone features on up to `samples` held-out images. Returns
    the candidates with "rankme" and "seconds" added, in their original order (rank 0 only)."""
    from nasiam.frameworks import framework_class
    from nasiam.runner.build import framework_kwargs
    from nasiam.backbones import feature_dim

    cfg, fabric, source = run.cfg, run.fabric, run.model
    # the architecture half, which no weight step has seen (whichever pipeline made the views);
    # a joint search has none, and scores on its training images
    held_out = run.data.held_out if run.data.held_out is not None else run.data.calibration
    generator = torch.Generator().manual_seed(cfg.seed)
    order = torch.randperm(len(held_out), generator=generator)[:samples].tolist()
    held_out_loader = DataLoader(Subset(held_out, order), batch_size=cfg.batch_size, shuffle=False, num_workers=0)
    device = fabric.device
    scored = []
    for rank, candidate in enumerate(candidates, 1):
        start = time.perf_counter()
        torch.manual_seed(cfg.seed + rank)   # each candidate's own, reproducible data order
        heads = {slot: source.searchable_heads()[slot].export(g) for slot, g in candidate["genotypes"].items()}
        backbone = copy.deepcopy(source.backbone)
        model = framework_class(cfg.framework)(backbone, feature_dim(backbone), heads=heads,
                                               **framework_kwargs(cfg)).to(device)
        model.train()
        optimizer = torch.optim.SGD(model.weight_parameters(), lr=run.base_lr(), momentum=0.9,
                                    weight_decay=cfg.weight_decay)
        # this loop runs outside fabric.backward, so under fp16 it scales its own loss
        scaler = torch.amp.GradScaler(device.type, enabled=run.grad_scaler() is not None)
        total = epochs * len(run.weight_loader)
        step = 0
        for _ in range(epochs):
            for views, _ in run.weight_loader:
                for group in optimizer.param_groups:
                    group["lr"] = warmup_cosine_lr(run.base_lr(), step, total, 0)
                with fabric.autocast():
                    loss = model(run.prepare(views))["loss"]
                if not torch.isfinite(loss.detach()):
                    break   # a candidate that diverges scores as collapsed
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
                model.update_momentum(cfg.ema_momentum)
                step += 1
        with torch.no_grad(), fabric.autocast():
            features, _ = extract_features(model.backbone, held_out_loader, device, run.channels_last)
        score = rankme(features) if torch.isfinite(features).all() else 1.0
        scored.append({**candidate, "rankme": score, "seconds": round(time.perf_counter() - start, 1),
                       "steps": step})
        del model, optimizer, backbone
    return scored
