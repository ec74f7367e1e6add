"""Evaluation of learned representations: kNN monitor, linear probe, semi-supervised fine-tuning."""
from nasiam.eval.knn import extract_features, knn_accuracy, knn_predict

__all__ = ["extract_features", "knn_accuracy", "knn_predict"]
