"""Re-estimating BatchNorm statistics of an exported head.

During the search a layer's BatchNorm sees inputs produced by a *mixture* of the previous
layer's widths and ops, so its running statistics describe the supernet, not the head that
is finally exported. Training-mode outputs (what SSL pretraining uses) are unaffected; for
eval-mode use, re-estimate the statistics on a few batches of features.
"""
from __future__ import annotations

import itertools
from typing import Iterable

import torch
import torch.nn as nn
from torch import Tensor


@torch.no_grad()
def recalibrate_batchnorm(module: nn.Module, batches: Iterable[Tensor], max_batches: int | None = None) -> int:
    """Reset every BatchNorm in `module` and re-estimate its running statistics as the exact
    average over `batches` (cumulative moving average, `momentum=None`). Returns the number of
    batches used. The module's train/eval mode and momenta are restored afterwards."""
    batches = iter(batches)
    first = next(batches, None)
    if first is None:
        raise ValueError("recalibrate_batchnorm got no batches; the statistics were left as they were")
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not norms:
        return 0
    was_training = module.training
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    module.train()
    used = 0
    try:
        for batch in itertools.chain([first], batches):
            if max_batches is not None and used >= max_batches:
                break
            module(batch)
            used += 1
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        module.train(was_training)
    return used
