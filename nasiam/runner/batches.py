"""A loader's batches that a run stopped mid-epoch can continue exactly where it left off.

A DataLoader pass draws its shuffle order (and its workers' seeds) from the global RNG when its
iterator is created. So a pass is rebuilt by restoring the RNG state it started from, creating
the iterator, and dropping the batches already consumed; the global RNG is then put back, so the
step after the resume draws what it would have drawn. Without a position the batches are the
loader's own.
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator

from nasiam._compat import fabric_loader_passes, set_fabric_loader_passes
from nasiam.errors import CheckpointError
from nasiam.runner import checkpoint as ckpt


class ResumableBatches:
    """Iterates `loader` for one pass, or pass after pass when `endless` (re-shuffling each,
    as `forever` does); `position()` says how to rebuild the current pass."""

    def __init__(self, loader: Iterable, endless: bool = False, position: dict[str, Any] | None = None):
        self.loader, self.endless = loader, endless
        self._iterator: Iterator | None = None
        self._pass_rng: dict[str, Any] | None = None
        self._pass_index: int | None = None
        self.consumed = 0
        if position is not None:
            self._replay(position)

    def _start_pass(self) -> None:
        self._pass_rng = ckpt.rng_state()  # before iter(): the pass's shuffle is drawn there
        self._pass_index = fabric_loader_passes(self.loader)  # ... or there, under DDP (the sampler's epoch)
        self._iterator = iter(self.loader)
        self.consumed = 0

    def _replay(self, position: dict[str, Any]) -> None:
        now = ckpt.rng_state()
        ckpt.set_rng_state(position["rng"])
        if position.get("pass") is not None:
            set_fabric_loader_passes(self.loader, int(position["pass"]))
        self._start_pass()
        for _ in range(int(position["consumed"])):
            try:
                next(self._iterator)
            except StopIteration:
                raise CheckpointError("the checkpoint's loader position is past the end of its pass: the data "
                                 "changed since it was written") from None
            self.consumed += 1
        ckpt.set_rng_state(now)

    def position(self) -> dict[str, Any] | None:
        """The state the current pass began from and the batches taken since (None before the first)."""
        if self._pass_rng is None:
            return None
        return {"rng": self._pass_rng, "consumed": self.consumed, "pass": self._pass_index}

    def __iter__(self) -> ResumableBatches:
        return self

    def __next__(self):
        if self._iterator is None:
            self._start_pass()
        try:
            batch = next(self._iterator)
        except StopIteration:
            if not self.endless:
                raise
            self._start_pass()
            batch = next(self._iterator)
        self.consumed += 1
        return batch
