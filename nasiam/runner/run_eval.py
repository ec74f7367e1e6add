"""How a training run judges its backbone: kNN during training, the full evaluation at the end.

Both read the features of the train and test splits on rank 0; the other ranks wait at the
callers' barrier. The last epoch's kNN features are kept for the end-of-run evaluation.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import torch.nn as nn

from nasiam._progress import logged_batches, progress
from nasiam.config import RunConfig
from nasiam.eval.knn import KNN_SETTINGS, extract_features, knn_accuracy
from nasiam.eval.protocol import PREDICTIONS_FILE, evaluate_features, save_predictions
from nasiam.eval.rankme import rankme
from nasiam.runner.build import build_eval_datasets, make_loader

__all__ = ["RunEvaluator"]


class RunEvaluator:
    """Call on rank 0 only. `rankme` is the label-free score of the last bank's features."""

    def __init__(self, cfg: RunConfig, info, backbone: nn.Module, device, channels_last: bool,
                 say: Callable[[str], None], verbose: bool):
        self.cfg, self.info, self.backbone, self.device = cfg, info, backbone, device
        self.channels_last, self.say, self.verbose = channels_last, say, verbose
        self.features: tuple | None = None   # ((bank, labels), (test, labels)) of the last extraction
        self.rankme: float | None = None

    def extract(self) -> tuple:
        bank_set, test_set = build_eval_datasets(self.cfg, self.info)
        self.features = tuple(
            # a bar on a terminal, and a line every few seconds for logs, where a bar never shows
            extract_features(self.backbone, logged_batches(
                progress(None, self.verbose, f"{name} features", make_loader(dataset, self.cfg, False, False)),
                len(dataset), self.say, f"{name} features"), self.device, self.channels_last)
            for name, dataset in (("train", bank_set), ("test", test_set)))
        return self.features

    def knn(self) -> float:
        """kNN top-1 (%) at --knn_k on the test split; also sets `rankme` (labels unused)."""
        bank, test = self.extract()
        self.rankme = rankme(bank[0])
        return knn_accuracy(*bank, *test, num_classes=self.info.num_classes, k=self.cfg.knn_k)

    def final(self, run_dir: Path, linear: bool, last_knn: float | None) -> dict[str, Any]:
        """The end-of-run metrics (`nasiam.eval.protocol`, plus `knn_top1` at --knn_k and
        `eval_seconds`), the per-image test predictions written to eval/. `last_knn`: the last
        epoch's kNN, whose features are reused when there is one."""
        start = time.perf_counter()
        what = "kNN (k=20, k=200)" + (" and the linear probe" if linear else "")
        if last_knn is None or self.features is None:
            # said in logs as well as on a terminal's bars: a minute of silence reads as a hang
            self.say(f"Evaluating the backbone: {what}; extracting the features of the train and test splits ...")
            self.extract()
            last_knn = None
            self.say(f"  features of {len(self.features[0][0])} train and {len(self.features[1][0])} test images "
                     f"in {time.perf_counter() - start:.0f} s")
        else:
            self.say(f"Evaluating the backbone: {what}, on the last epoch's features ...")
        (bank, bank_labels), (test, test_labels) = self.features
        share = self.cfg.knn_k / max(1, len(bank))
        if share > 0.1:   # k spanning much of the bank votes with most of every class: a low, flat score
            self.say(f"Note: --knn_k={self.cfg.knn_k} neighbours is {share:.0%} of the {len(bank)}-image memory bank, "
                     "so the kNN score is low for reasons of the bank, not of the features; raise --knn_subset "
                     "(none: the whole training split) or lower --knn_k")
        evaluation = evaluate_features(bank, bank_labels, test, test_labels, self.info.num_classes,
                                       linear=linear, seed=self.cfg.seed, verbose=self.verbose, say=self.say)
        save_predictions(run_dir / "eval" / PREDICTIONS_FILE, evaluation)
        if last_knn is None:   # --knn_k at T=0.1: the k=200 setting already computed it
            last_knn = (evaluation.metrics[f"knn{self.cfg.knn_k}_top1"] if (self.cfg.knn_k, 0.1) in KNN_SETTINGS
                        else knn_accuracy(bank, bank_labels, test, test_labels, self.info.num_classes, k=self.cfg.knn_k))
        self.rankme = evaluation.metrics["rankme"]
        return {"knn_top1": last_knn, **evaluation.metrics, "eval_seconds": round(time.perf_counter() - start, 1)}
