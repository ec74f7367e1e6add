"""The console's progress: tqdm bars on a terminal, and lines for logs.

A bar shows only on a terminal; in logs (CI, nohup, `| tee`) a step that takes a minute would
otherwise print nothing and read as a hang. `logged_batches` says how far such a step is, a line
every few seconds, through the run's own `say` (rank 0's stdout), whatever the console is."""
from __future__ import annotations

import sys
import time
from typing import Callable, Iterable, Iterator

LOG_EVERY_SECONDS = 15.0   # a line at most this often: a minute's extraction gives three or four


def progress(total: int | None, enabled: bool, description: str, iterable: Iterable | None = None):
    """A tqdm bar over `total` steps (or over `iterable`), shown only when `enabled` and the
    console is a terminal: in logs (CI, nohup) the per-epoch and end-of-run lines say it all.
    Disabled, it still iterates `iterable` and counts nothing."""
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, disable=not (enabled and sys.stderr.isatty()), desc=description,
                dynamic_ncols=True, leave=False, mininterval=0.5)


def logged_batches(batches: Iterable, total: int, say: Callable[[str], None], description: str,
                   every: float | None = None) -> Iterator:
    """Yield `batches` (each a tuple whose first item is a batch of images) and say a line such
    as "  train features: 15,360 of 60,000 images (26%), 14 s" once at least `every` seconds
    (default LOG_EVERY_SECONDS) have passed since the start or the last line; never after the
    last batch (the caller's summary line follows). The line is written around any tqdm bar on
    the terminal (cleared, then redrawn), so a bar and the lines can share a console."""
    from tqdm.auto import tqdm

    every = LOG_EVERY_SECONDS if every is None else every
    start = last = time.perf_counter()
    done = 0
    for batch in batches:
        yield batch
        done += len(batch[0])
        now = time.perf_counter()
        if now - last >= every and done < total:
            last = now
            with tqdm.external_write_mode():
                say(f"  {description}: {done:,} of {total:,} images ({done / max(1, total):.0%}), "
                    f"{now - start:.0f} s")
