"""The evaluation every run ends with, on frozen backbone features (labels of the training
split as the bank, the test split as the queries):

    linear_top1    converged L-BFGS logistic regression, penalty chosen on held-out train
                   features (nasiam.eval.linear): the primary metric of comparisons
    knn20_top1     weighted kNN, k=20, T=0.07 (solo-learn's setting)
    knn200_top1    weighted kNN, k=200, T=0.1 (lightly's and InstDisc's setting)
    rankme         RankMe of the bank's features (label-free; a collapse diagnostic)

Each run also keeps the predicted class of every test image (`save_predictions`), so a
comparison can tell the noise of the test sample (a bootstrap over images) from the noise
of training (the spread over seeds).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor

from nasiam._io import atomic_write_bytes
from nasiam.eval.knn import KNN_SETTINGS, knn_predict_settings
from nasiam.eval.linear import linear_probe
from nasiam.eval.rankme import rankme

__all__ = ["FeatureEvaluation", "evaluate_features", "save_predictions", "load_predictions", "PREDICTIONS_FILE",
           "knn_name"]

PREDICTIONS_FILE = "predictions.safetensors"


def knn_name(k: int) -> str:
    return f"knn{k}"


@dataclass
class FeatureEvaluation:
    metrics: dict[str, float | None]              # linear_top1, knn20_top1, knn200_top1, rankme, ...
    predictions: dict[str, Tensor] = field(repr=False)   # name -> predicted class per test image
    labels: Tensor = field(repr=False)
    seconds: float = 0.0


def _top1(predicted: Tensor, labels: Tensor) -> float:
    return float((predicted == labels).float().mean()) * 100 if len(labels) else float("nan")


@torch.no_grad()
def evaluate_features(bank: Tensor, bank_labels: Tensor, test: Tensor, test_labels: Tensor, num_classes: int,
                      linear: bool = True, knn_settings=KNN_SETTINGS, seed: int = 0,
                      verbose: bool = False, say: Callable[[str], None] | None = None) -> FeatureEvaluation:
    """Every metric of the end-of-run evaluation from extracted (L2-normalised) features;
    `say`: a line per metric with its seconds, for logs, where no bar shows."""
    say = say or (lambda line: None)
    start = time.perf_counter()
    labelled = bank_labels >= 0   # unlabelled images (STL-10) have label -1: no vote, no probe
    if not bool(labelled.any()):
        raise ValueError("the evaluation needs labelled training images (the memory bank has none)")
    metrics: dict[str, float | None] = {}
    predictions: dict[str, Tensor] = {}
    knn = knn_predict_settings(bank[labelled], bank_labels[labelled], test, num_classes, knn_settings)
    for (k, _), predicted in knn.items():
        predictions[knn_name(k)] = predicted
        metrics[f"{knn_name(k)}_top1"] = _top1(predicted, test_labels)
    say("  kNN top-1: " + ", ".join(f"{metrics[f'{knn_name(k)}_top1']:.2f} % (k={k})" for k, _ in knn)
        + f" in {time.perf_counter() - start:.0f} s")
    if linear:
        fitted = time.perf_counter()
        say(f"  linear probe: fitting on {int(labelled.sum())} train features (penalty chosen on a held-out share) ...")
        probe = linear_probe(bank, bank_labels, test, test_labels, num_classes, seed=seed, verbose=verbose,
                             say=say)
        predictions["linear"] = probe.predictions
        metrics.update(linear_top1=probe.test_top1, linear_weight_decay=probe.weight_decay,
                       linear_val_top1=probe.val_top1, linear_converged=probe.converged)
        say(f"  linear probe top-1: {probe.test_top1:.2f} % in {time.perf_counter() - fitted:.0f} s")
    metrics["rankme"] = rankme(bank)
    return FeatureEvaluation(metrics, predictions, test_labels, round(time.perf_counter() - start, 2))


def save_predictions(path: str | Path, evaluation: FeatureEvaluation) -> Path:
    """The test labels and each metric's predicted classes, as uint8 (int16 past 255 classes)."""
    from safetensors.torch import save

    largest = int(evaluation.labels.max()) if len(evaluation.labels) else 0
    dtype = torch.uint8 if largest < 256 else torch.int16
    tensors = {"labels": evaluation.labels.to(dtype).contiguous(),
               **{name: p.to(dtype).contiguous() for name, p in evaluation.predictions.items()}}
    path = Path(path)
    atomic_write_bytes(path, save(tensors, metadata={"format": "nasiam.predictions", "schema_version": "1"}))
    return path


def load_predictions(path: str | Path) -> dict[str, Tensor]:
    """{"labels": ..., name: predicted classes} as int64 (safetensors: nothing is executed)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        if (f.metadata() or {}).get("format") != "nasiam.predictions":
            raise ValueError(f"{path} is not a nasiam predictions file")
        return {name: f.get_tensor(name).long() for name in f.keys()}
