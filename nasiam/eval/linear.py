"""Linear probe: a converged multinomial logistic regression on frozen, precomputed features.

The probe is the primary measure of a representation in nasiam's comparisons, so it must be
a property of the features, not of the probe's optimiser: a stochastic probe stopped after a
few epochs adds its own noise and rewards features that are quick to fit. Here the convex
problem is solved to convergence with full-batch L-BFGS, and its one hyper-parameter, the L2
penalty, is chosen on a held-out share of the *training* features (never on the test set),
as in the linear evaluations of SimCLR's and BYOL's transfer experiments:

1. whiten the features with the training set's mean and covariance (PCA whitening,
   eigenvalues floored at 1e-6 of the largest): the same linear model, but a well-conditioned
   problem, so L-BFGS converges in tens of iterations instead of hundreds (the penalty then
   acts in whitened coordinates, and is chosen on held-out data like any other);
2. hold out `val_fraction` of the training features (seeded); fit on the rest once per
   penalty in `weight_decays`, strongest first, each fit warm-started from the previous one;
3. keep the penalty with the best held-out accuracy (ties: the stronger penalty), refit on all
   training features from that solution, score the test set.

The final fit's convergence (largest gradient entry below `tolerance`) is reported, not assumed.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from nasiam._progress import progress

__all__ = ["LinearProbeResult", "linear_probe", "fit_logistic_regression", "WEIGHT_DECAYS"]

# L2 penalties tried, strongest first; 1e-1 so that the usual choice, 1e-2, is not the grid's edge
WEIGHT_DECAYS = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5)


@dataclass(frozen=True)
class LinearProbeResult:
    train_top1: float
    test_top1: float
    weight_decay: float                 # the penalty chosen on the held-out training features
    val_top1: float | None              # its held-out accuracy (None: a single penalty, no selection)
    converged: bool                     # the final fit reached the gradient tolerance
    iterations: int                     # L-BFGS iterations of the final fit
    predictions: Tensor = field(repr=False)   # the predicted class of each test image (int64)


def _objective(weight: Tensor, bias: Tensor, x: Tensor, y: Tensor, weight_decay: float) -> Tensor:
    return F.cross_entropy(x @ weight.T + bias, y) + 0.5 * weight_decay * weight.pow(2).sum()


def fit_logistic_regression(x: Tensor, y: Tensor, num_classes: int, weight_decay: float, max_iter: int = 300,
                            tolerance: float = 1e-4, init: tuple[Tensor, Tensor] | None = None
                            ) -> tuple[Tensor, Tensor, bool, int]:
    """(weight, bias, converged, iterations) minimising mean cross-entropy + wd/2 |W|^2 by
    full-batch L-BFGS with a strong-Wolfe line search. Converged: the gradient's largest
    entry ended below `tolerance`."""
    weight = torch.zeros(num_classes, x.shape[1], dtype=x.dtype) if init is None else init[0].clone()
    bias = torch.zeros(num_classes, dtype=x.dtype) if init is None else init[1].clone()
    weight.requires_grad_(True)
    bias.requires_grad_(True)
    optimizer = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=max_iter, tolerance_grad=tolerance,
                                  tolerance_change=1e-10, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = _objective(weight, bias, x, y, weight_decay)
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
        closure()
    gradient = max(float(weight.grad.abs().max()), float(bias.grad.abs().max()))
    iterations = int(optimizer.state[optimizer._params[0]].get("n_iter", 0))
    return weight.detach(), bias.detach(), gradient <= tolerance, iterations


def _whitening(x: Tensor, floor: float = 1e-6):
    """x -> (x - mean) U diag(1/sqrt(lambda)) with the eigenpairs of x's covariance (in float64)."""
    mean = x.mean(0, keepdim=True)
    centred = (x - mean).double()
    eigenvalues, eigenvectors = torch.linalg.eigh(centred.T @ centred / max(1, len(x) - 1))
    eigenvalues = eigenvalues.clamp_min(0) + floor * float(eigenvalues.max().clamp_min(1e-12))
    matrix = (eigenvectors / eigenvalues.sqrt()).to(x.dtype)
    return lambda features: (features - mean) @ matrix


def _accuracy(weight: Tensor, bias: Tensor, x: Tensor, y: Tensor) -> float:
    return float(((x @ weight.T + bias).argmax(1) == y).float().mean()) * 100


def linear_probe(train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor, num_classes: int,
                 weight_decays: Sequence[float] = WEIGHT_DECAYS, val_fraction: float = 0.2, max_iter: int = 300,
                 select_iter: int = 100, seed: int = 0, verbose: bool = False,
                 say: Callable[[str], None] | None = None) -> LinearProbeResult:
    """Fit the probe on (train_x, train_y) (labels < 0, unlabelled images, dropped) and score it
    on the test set, in percent. `verbose`: a progress bar over the fits; `say`: a line per fit."""
    say = say or (lambda line: None)
    start = time.perf_counter()

    keep = train_y >= 0
    train_x, train_y = train_x[keep].float(), train_y[keep].long()
    if len(train_x) < 2:
        raise ValueError("the linear probe needs labelled training features (found fewer than 2)")
    if not weight_decays or any(w < 0 for w in weight_decays):
        raise ValueError(f"weight_decays must be non-negative penalties, got {list(weight_decays)}")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie in (0, 1), got {val_fraction}")
    whiten = _whitening(train_x)
    train_x, test_x = whiten(train_x), whiten(test_x.float())
    penalties = sorted(set(float(w) for w in weight_decays), reverse=True)
    chosen, val_top1, init = penalties[0], None, None
    bar = progress(len(penalties) + 1 if len(penalties) > 1 else 1, verbose, "linear probe")
    if len(penalties) > 1:
        order = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(seed))
        n_val = max(1, round(val_fraction * len(train_x)))
        val, fit = order[:n_val], order[n_val:]
        for penalty in penalties:   # strongest first: each solution warm-starts the next, weaker one
            w, b, _, _ = fit_logistic_regression(train_x[fit], train_y[fit], num_classes, penalty, select_iter,
                                                 init=init)
            init = (w, b)
            bar.update(1)
            score = _accuracy(w, b, train_x[val], train_y[val])
            say(f"  linear probe: penalty {penalty:g}, held-out top-1 {score:.2f} % (fit {penalties.index(penalty) + 1} "
                f"of {len(penalties) + 1}, {time.perf_counter() - start:.0f} s)")
            if val_top1 is None or score > val_top1:
                chosen, val_top1, best = penalty, score, (w, b)
        init = best
    weight, bias, converged, iterations = fit_logistic_regression(train_x, train_y, num_classes, chosen, max_iter,
                                                                  init=init)
    bar.update(1)
    bar.close()
    with torch.no_grad():
        predictions = (test_x @ weight.T + bias).argmax(1)
    test_top1 = float((predictions == test_y.long()).float().mean()) * 100 if len(test_y) else float("nan")
    return LinearProbeResult(_accuracy(weight, bias, train_x, train_y), test_top1, chosen, val_top1, converged,
                             iterations, predictions)
