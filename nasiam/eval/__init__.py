"""Evaluation of learned representations: kNN monitor, linear probe, semi-supervised
fine-tuning, and accuracy curves."""
from nasiam.eval.finetune import FinetuneResult, finetune
from nasiam.eval.knn import extract_features, knn_accuracy, knn_predict
from nasiam.eval.linear import LinearProbeResult, linear_probe
from nasiam.eval.plots import plot_curves
from nasiam.eval.rankme import rankme

__all__ = ["extract_features", "knn_accuracy", "knn_predict", "linear_probe", "LinearProbeResult", "finetune",
           "FinetuneResult", "plot_curves", "rankme"]
