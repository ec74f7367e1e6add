"""Counting the host's reads of tensor values (test helper)."""
import functools
import sys
from pathlib import Path

import torch

import nasiam

PACKAGE = Path(nasiam.__file__).resolve().parent  # nasiam's own code, wherever the checkout lives


class HostReads:
    """Counts nasiam's own reads of tensor values by the host (`float`, `int`, `bool`, `.item`,
    `.tolist`): on a GPU each waits for the queued kernels. (torch.optim reads its CPU-side step
    counters; those wait for nothing.) A read is nasiam's when the calling frame's file lies in
    nasiam's package directory (compared as resolved paths)."""

    NAMES = ("__float__", "__int__", "__bool__", "item", "tolist")

    def __init__(self, monkeypatch, exclude: tuple[str, ...] = ()):
        """`exclude`: parts of nasiam not counted, e.g. ("data", "eval")."""
        self.count = 0
        skip = tuple(PACKAGE / part for part in exclude)

        @functools.lru_cache(maxsize=None)
        def counts(filename: str) -> bool:
            path = Path(filename).resolve()
            return path.is_relative_to(PACKAGE) and not any(path.is_relative_to(s) for s in skip)

        for name in self.NAMES:
            original = getattr(torch.Tensor, name)

            def counted(tensor, *args, _original=original, **kwargs):
                self.count += counts(sys._getframe(1).f_code.co_filename)
                return _original(tensor, *args, **kwargs)

            monkeypatch.setattr(torch.Tensor, name, counted)
