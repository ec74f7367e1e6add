"""Counting the host's reads of tensor values (test helper)."""
import sys

import torch


class HostReads:
    """Counts nasiam's own reads of tensor values by the host (`float`, `int`, `bool`, `.item`,
    `.tolist`): on a GPU each waits for the queued kernels. (torch.optim reads its CPU-side step
    counters; those wait for nothing.)"""

    NAMES = ("__float__", "__int__", "__bool__", "item", "tolist")

    def __init__(self, monkeypatch, exclude: tuple[str, ...] = ()):
        """`exclude`: parts of nasiam not counted, e.g. ("data", "eval")."""
        self.count = 0
        skip = tuple(f"/nasiam/{part}/" for part in exclude)
        for name in self.NAMES:
            original = getattr(torch.Tensor, name)

            def counted(tensor, *args, _original=original, **kwargs):
                caller = sys._getframe(1).f_code.co_filename.replace("\\", "/")
                self.count += "/nasiam/" in caller and "/tests/" not in caller and not any(s in caller for s in skip)
                return _original(tensor, *args, **kwargs)

            monkeypatch.setattr(torch.Tensor, name, counted)
