"""Choosing the genotype a search exports, when its logits do not decide clearly.

DARTS ends by taking the argmax of each decision's logits. With SSL losses the logits move
little, and a decision whose best option has p = 0.34 against a uniform 0.25 is a weak
decision (Wang et al., ICLR 2021, "Rethinking architecture selection in differentiable
NAS"). `verify` shortlists the supernet's `top_k` most probable distinct architectures,
trains each briefly from the shared weights (a copy of the search's backbone and the
candidate's heads exported from the supernet), and keeps the one whose backbone features
have the highest RankMe (Garrido et al. 2023) on held-out images: a label-free score, since
a search must not read labels.

`probe` selects by the real objective at low fidelity instead: the shortlist (the argmax, the
next most probable distinct genotypes and the default head) trains by successive halving from
the search's weights, each scored by a linear probe on held-out *training* images and their
labels (never the test set). It reads labels, so it is a supervised selection; its cost is
reported in epochs of the weight half.

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

__all__ = ["decision_confidence", "near_uniform", "joint_candidates", "verify_candidates", "probe_candidates",
           "CandidateTrainer", "NEAR_UNIFORM_RATIO"]

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


def default_candidate(model, hidden: Mapping[str, int | None], meta: Mapping | None = None) -> dict[str, Any] | None:
    """The method's standard heads as a candidate of the search space: every searchable layer
    kept, at the slot's standard hidden width (`hidden`), with BatchNorm and ReLU; None where
    the space cannot express it (the nasiam space, widths outside the candidates)."""
    decisions = {}
    for slot, head in model.searchable_heads().items():
        wanted = {"keep": True, "width": hidden.get(slot), "norm": "batchnorm", "activation": "relu"}
        layers = []
        for layer in head.searchable_layers():
            if not set(layer.choices) <= set(wanted) or any(wanted[c] not in layer.choices[c] for c in layer.choices):
                return None
            layers.append({c: wanted[c] for c in layer.choices})
        decisions[slot] = layers
    genotypes = {}
    for slot, head in model.searchable_heads().items():
        saved = [p.detach().clone() for p in head.arch_parameters()]
        try:   # the head's own genotype() of these decisions: one-hot logits, then put back
            with torch.no_grad():
                for layer, decision in zip(head.searchable_layers(), decisions[slot]):
                    for choice, logits in layer.arch.items():
                        logits.fill_(-10.0)
                        logits[list(layer.choices[choice]).index(decision[choice])] = 10.0
            genotypes[slot] = head.genotype(meta={"framework": model.name, "slot": slot, "candidate": "default",
                                                  **(meta or {})})
        finally:
            with torch.no_grad():
                for p, value in zip(head.arch_parameters(), saved):
                    p.copy_(value)
    return {"probability": _probability(model.searchable_heads(), genotypes), "genotypes": genotypes,
            "default": True}


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


class CandidateTrainer:
    """One shortlisted genotype trained from the search's weights: a copy of the search's
    backbone with the candidate's heads exported from the supernet (weight sharing gives every
    candidate the same starting point), trained on the weight half at the search's learning
    rate. `train(epochs)` continues where the last call stopped."""

    def __init__(self, run, candidate: dict[str, Any], rank: int):
        from nasiam.backbones import feature_dim
        from nasiam.frameworks import framework_class
        from nasiam.runner.build import framework_kwargs

        cfg, source = run.cfg, run.model
        self.run, self.candidate, self.rank, self.steps, self.seconds = run, candidate, rank, 0, 0.0
        heads = {slot: source.searchable_heads()[slot].export(g) for slot, g in candidate["genotypes"].items()}
        # a fixed head (--predictor default|directpred) trains on with each candidate, from the search's state
        heads.update({slot: copy.deepcopy(h) for slot, h in source.fixed_heads().items()})
        backbone = copy.deepcopy(source.backbone)
        self.model = framework_class(cfg.framework)(backbone, feature_dim(backbone), heads=heads,
                                                    **framework_kwargs(cfg)).to(run.fabric.device)
        self.optimizer = torch.optim.SGD(self.model.weight_parameters(), lr=run.base_lr(), momentum=0.9,
                                         weight_decay=cfg.weight_decay)
        # this loop runs outside fabric.backward, so under fp16 it scales its own loss
        self.scaler = torch.amp.GradScaler(run.fabric.device.type, enabled=run.grad_scaler() is not None)
        self.diverged = False

    def train(self, epochs: int, total_epochs: int | None = None) -> None:
        """`epochs` more epochs; the learning rate follows a cosine over `total_epochs` (default:
        these epochs alone)."""
        run, start = self.run, time.perf_counter()
        total = (total_epochs or epochs) * len(run.train_loader)
        torch.manual_seed(run.cfg.seed + self.rank * 1000 + self.steps)   # the candidate's own data order
        self.model.train()
        for _ in range(epochs):
            for views, _ in run.train_loader:
                if self.diverged:
                    break
                for group in self.optimizer.param_groups:
                    group["lr"] = warmup_cosine_lr(run.base_lr(), self.steps, total, 0)
                with run.fabric.autocast():
                    loss = self.model(run.prepare(views))["loss"]
                if not torch.isfinite(loss.detach()):
                    self.diverged = True   # a candidate that diverges scores as collapsed
                    break
                self.scaler.scale(loss).backward()
                self.scaler.step(self.optimizer)
                self.scaler.update()
                self.optimizer.zero_grad(set_to_none=True)
                self.model.update_momentum(run.cfg.ema_momentum)
                self.steps += 1
        self.seconds += time.perf_counter() - start

    def features(self, loader) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad(), self.run.fabric.autocast():
            return extract_features(self.model.backbone, loader, self.run.fabric.device, self.run.channels_last)


def _held_out_loader(run, samples: int) -> DataLoader:
    # the architecture half, which no weight step has seen (whichever pipeline made the views);
    # a joint search has none, and scores on its training images
    cfg = run.cfg
    held_out = run.data.held_out if run.data.held_out is not None else run.data.calibration
    order = torch.randperm(len(held_out), generator=torch.Generator().manual_seed(cfg.seed))[:samples].tolist()
    return DataLoader(Subset(held_out, order), batch_size=cfg.batch_size, shuffle=False, num_workers=0)


def verify_candidates(run, candidates: list[dict[str, Any]], epochs: int, samples: int) -> list[dict[str, Any]]:
    """Train each candidate for `epochs` epochs of the weight loader from the search's weights
    and score RankMe of its backbone features on up to `samples` held-out images. Returns
    the candidates with "rankme" and "seconds" added, in their original order (rank 0 only)."""
    loader = _held_out_loader(run, samples)
    scored = []
    for rank, candidate in enumerate(candidates, 1):
        trainer = CandidateTrainer(run, candidate, rank)
        trainer.train(epochs)
        features, _ = trainer.features(loader)
        score = rankme(features) if not trainer.diverged and torch.isfinite(features).all() else 1.0
        scored.append({**candidate, "rankme": score, "seconds": round(trainer.seconds, 1), "steps": trainer.steps})
        del trainer
    return scored


def probe_score(features: torch.Tensor, labels: torch.Tensor, num_classes: int, seed: int) -> float:
    """Linear-probe top-1 (%) of held-out training images: fitted on three quarters of them,
    scored on the last quarter (the test set is never read)."""
    from nasiam.eval.linear import linear_probe

    keep = labels >= 0
    features, labels = features[keep], labels[keep]
    if not torch.isfinite(features).all() or len(labels) < 8:
        return 0.0
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    cut = (3 * len(order)) // 4
    fit, val = order[:cut], order[cut:]
    return linear_probe(features[fit], labels[fit], features[val], labels[val], num_classes, seed=seed).test_top1


def probe_candidates(run, candidates: list[dict[str, Any]], epochs: int, samples: int, num_classes: int,
                     eta: int = 2, say=print) -> tuple[int, list[dict[str, Any]]]:
    """Successive halving over `candidates` by the real objective at low fidelity: every
    candidate trains `epochs` epochs from the search's weights and is scored by a linear probe
    on `samples` held-out training images with their labels; the best 1/`eta` go on for `eta`
    times as many epochs, until one is left. Returns the winner's index and, per candidate,
    its scores by round, epochs and seconds (rank 0 only)."""
    loader = _held_out_loader(run, samples)
    trainers = [CandidateTrainer(run, c, rank) for rank, c in enumerate(candidates, 1)]
    records = [{**c, "scores": [], "epochs": 0} for c in candidates]
    alive, budget, round_ = list(range(len(candidates))), epochs, 0
    while True:
        for i in alive:
            trainers[i].train(budget)
            records[i]["epochs"] += budget
            features, labels = trainers[i].features(loader)
            score = 0.0 if trainers[i].diverged else probe_score(features, labels, num_classes, run.cfg.seed)
            records[i]["scores"].append(round(score, 2))
            say(f"  round {round_ + 1}: #{i + 1} probe {score:.1f} % after {records[i]['epochs']} epoch(s)  "
                + " | ".join(g.describe() for g in candidates[i]["genotypes"].values()))
        if len(alive) == 1:
            break
        alive = sorted(alive, key=lambda i: -records[i]["scores"][-1])[:max(1, len(alive) // eta)]
        budget, round_ = budget * eta, round_ + 1
    for record, trainer in zip(records, trainers):
        record["seconds"], record["steps"] = round(trainer.seconds, 1), trainer.steps
    return alive[0], records
