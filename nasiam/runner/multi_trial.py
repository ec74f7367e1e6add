"""Multi-trial architecture selection over a one-shot supernet (in the spirit of CS-NAS).

The supernet's weights are trained with a uniformly random path per step (`uniform`
sampling, as in SPOS), so every discrete genotype of the space can be evaluated with the
shared weights. Then Optuna's TPE sampler (or a random sampler, the baseline) proposes
genotypes; each is scored by the SSL loss on held-out architecture batches whose backbone
features are computed once, with the collapse monitor as a penalty. The best genotype is
written into the logits (one-hot), so every output reads as for a DARTS search.
"""
from __future__ import annotations

import csv
import io
from typing import Any

import torch

from nasiam._io import atomic_write_text
from nasiam.search.monitor import effective_rank, normalized_std

__all__ = ["select_by_trials"]

COLLAPSE_PENALTY = 10.0  # added to a collapsed genotype's loss: worse than any healthy one


def _suggest(trial, slot: str, index: int, layer) -> dict[str, Any]:
    return {choice: trial.suggest_categorical(f"{slot}.{index}.{choice}", list(options))
            for choice, options in layer.choices.items()}


@torch.no_grad()
def select_by_trials(model, encoded_batches: list, sampler: str, trials: int, seed: int, min_std: float,
                     min_rank: float, csv_path=None) -> dict[str, list[dict[str, Any]]]:
    """Score `trials` genotypes on `encoded_batches`; set the heads' logits to the best one
    and return its decisions per head."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    heads = model.searchable_heads()
    make_sampler = optuna.samplers.TPESampler if sampler == "tpe" else optuna.samplers.RandomSampler
    study = optuna.create_study(direction="minimize", sampler=make_sampler(seed=seed))
    previous = {slot: (head.sampling, head.fixed_decisions) for slot, head in heads.items()}

    def objective(trial) -> float:
        decisions = {slot: [_suggest(trial, slot, i, layer) for i, layer in enumerate(head.searchable_layers())]
                     for slot, head in heads.items()}
        for slot, head in heads.items():
            head.set_sampling("fixed", decisions=decisions[slot])
        outs = [model.head_loss(encoded, update_state=False) for encoded in encoded_batches]
        loss = sum(float(o["loss"]) for o in outs) / len(outs)
        z = torch.cat([o["z"] for o in outs])
        std, rank = normalized_std(z), effective_rank(z)
        collapsed = std < min_std or rank < min_rank
        trial.set_user_attr("loss", loss)
        trial.set_user_attr("collapse_std", std)
        trial.set_user_attr("effective_rank", rank)
        return loss + (COLLAPSE_PENALTY if collapsed else 0.0)

    try:
        study.optimize(objective, n_trials=trials)
    finally:
        for slot, head in heads.items():
            mode, fixed = previous[slot]
            head.set_sampling(mode, decisions=fixed if mode == "fixed" else None)
    best = study.best_trial.params
    chosen = {slot: [{choice: best[f"{slot}.{i}.{choice}"] for choice in layer.choices}
                     for i, layer in enumerate(head.searchable_layers())] for slot, head in heads.items()}
    for slot, head in heads.items():
        head.commit_decisions(chosen[slot])
    if csv_path is not None:
        names = sorted({k for t in study.trials for k in t.params})
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["trial", "score", "loss", "collapse_std", "effective_rank", *names])
        for t in study.trials:
            writer.writerow([t.number, t.value, t.user_attrs.get("loss"), t.user_attrs.get("collapse_std"),
                             t.user_attrs.get("effective_rank"), *[t.params.get(n) for n in names]])
        atomic_write_text(csv_path, buffer.getvalue())
    return chosen
