"""Re-estimating BatchNorm statistics of an exported head.

During the search a layer's BatchNorm sees inputs produced by a *mixture* of the previous
layer's widths and ops, so its running statistics describe the supernet, not the head that
is finally exported. Training-mode outputs (what SSL pretraining uses) are unaffected; for
eval-mode use, re-estimate the statistics on a few batches of features.
"""
from __future__ import annotations

import itertools
from typing import Iterable, Iterator

import torch
import torch.nn as nn
from torch import Tensor

from nasiam._arguments import check_count, check_iterable, check_type
from nasiam.errors import shown


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
    max_batches = check_count("max_batches", max_batches, none_means="all of them")
    finite: list[tuple[int, Tensor]] = []   # (position, all finite?) on the device: read once, at the end
    batches = (b for b in _checked(batches, finite, _dtype(module)) if len(b) > 1)
    if max_batches is not None:   # a batch past the last one used is never pulled, so never checked (#33 probe 10, G2)
        batches = itertools.islice(batches, max_batches)
    first = next(batches, None)
    if first is None:
        raise ValueError("recalibrate_batchnorm got no batches of two or more rows; the statistics were left as "
                         "they were")
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not norms:
        return 0
    was_training = module.training
    momenta = [m.momentum for m in norms]
    # kept to put back if a batch proves non-finite: NaN statistics were left, silently, and
    # save_pretrained wrote a head from_pretrained refused as damaged (#33 probe 8, E5)
    saved = [{k: v.clone() for k, v in m.state_dict().items()} for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    module.train()
    used = 0
    try:
        for batch in itertools.chain([first], batches):
            module(batch)
            used += 1
        flags = torch.stack([flag for _, flag in finite]).tolist() if finite else []
        if not all(flags):
            raise ValueError(f"batches: the batch at position {finite[flags.index(False)][0]} holds non-finite values "
                             "(NaN or inf); the statistics were left as they were")
        damaged = [name for name, m in module.named_modules() if m in norms and not all(
            bool(torch.isfinite(v).all()) for v in (m.running_mean, m.running_var) if v is not None)]
        if damaged:   # finite features whose statistics overflow (values near the float's limit)
            raise ValueError(f"recalibrate_batchnorm: the batches gave non-finite statistics in {', '.join(damaged)} "
                             "(values too large for the head's dtype); the statistics were left as they were")
    except BaseException:
        for m, state in zip(norms, saved):
            m.load_state_dict(state)
        raise
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        module.train(was_training)
    return used


def _dtype(module: nn.Module) -> torch.dtype | None:
    """The dtype of `module`'s first floating-point weight: what its batches must be."""
    return next((t.dtype for t in itertools.chain(module.parameters(), module.buffers()) if t.is_floating_point()),
                None)


def _casts(batch: Tensor) -> bool:
    """Whether autocast is on for `batch`'s device: it casts a batch to the head's dtype there."""
    try:
        return torch.is_autocast_enabled(batch.device.type)
    except RuntimeError:   # a device type autocast does not know (meta)
        return False


def _checked(batches: Iterable[Tensor], finite: list[tuple[int, Tensor]], dtype: torch.dtype | None = None
             ) -> Iterator[Tensor]:
    """Each batch a tensor of the head's `dtype`, or a ValueError naming it by its position (a
    list of ints failed as "object of type 'int' has no len()", a float64 batch as torch's "expected
    m1 and m2 to have the same dtype", the ninth probe of #33, F5: named before the batch reaches
    the head); whether a float batch is all finite is appended to `finite` as a device tensor, read
    once after the last batch (a read per batch would wait for the device at each: a NaN batch left
    NaN statistics, silently, before)."""
    for i, batch in enumerate(batches):
        if not isinstance(batch, Tensor):
            raise ValueError(f"batches must be an iterable of feature tensors, got {shown(batch)} (type "
                             f"{type(batch).__name__}) at position {i}")
        if batch.dim() == 0:   # was "TypeError: len() of a 0-d tensor" from the row filter (#33 probe 10, G2)
            raise ValueError(f"batches: the batch at position {i} is a 0-d tensor ({shown(batch)}); batches are "
                             "(rows, features) tensors; the statistics were left as they were")
        if dtype is not None and batch.dtype != dtype and not _casts(batch):
            name, head = str(batch.dtype).removeprefix("torch."), str(dtype).removeprefix("torch.")
            raise ValueError(f"batches: the batch at position {i} is {name}; the head is {head}: convert the batches "
                             f"with .to(torch.{head}); the statistics were left as they were")
        if batch.is_floating_point():
            finite.append((i, torch.isfinite(batch).all()))
        yield batch
