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

from nasiam._arguments import check_count, check_iterable, check_type


@torch.no_grad()
def recalibrate_batchnorm(module: nn.Module, batches: Iterable[Tensor], max_batches: int | None = None) -> int:
    """Reset every BatchNorm in `module` and re-estimate its running statistics as the exact
    average over `batches` (cumulative moving average, `momentum=None`). Returns the number of
    batches used. A batch of one row is skipped: it has no batch statistics (BatchNorm refuses
    it in training mode), and a loader's last batch is one row whenever its dataset's size is one
    more than a multiple of the batch size. The module's train/eval mode and momenta are
    restored afterwards."""
    # named here, not as "'NoneType' object is not iterable" from the generator below
    check_type("module", module, nn.Module, "a head (an nn.Module)")
    check_iterable("batches", batches, "feature tensors (a list of them, a generator)")
    check_count("max_batches", max_batches, none_means="all of them")
    batches = (b for b in batches if len(b) > 1)
    first = next(batches, None)
    if first is None:
        raise ValueError("recalibrate_batchnorm got no batches of two or more rows; the statistics were left as "
                         "they were")
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
