"""The console's progress bars (tqdm), shared by the training loops and the evaluations."""
from __future__ import annotations

import sys
from typing import Iterable


def progress(total: int | None, enabled: bool, description: str, iterable: Iterable | None = None):
    """A tqdm bar over `total` steps (or over `iterable`), shown only when `enabled` and the
    console is a terminal: in logs (CI, nohup) the per-epoch and end-of-run lines say it all.
    Disabled, it still iterates `iterable` and counts nothing."""
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, disable=not (enabled and sys.stderr.isatty()), desc=description,
                dynamic_ncols=True, leave=False, mininterval=0.5)
