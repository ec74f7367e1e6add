import os

import pytest
import torch

# Tests size themselves for two CPU cores; keep torch from oversubscribing them.
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _sigint_handler():
    """A CLI command called in-process may leave its own SIGINT handler (and `nasiam export` its
    SIGTERM, SIGHUP and SIGUSR1 ones) for the process's last moments, after a finished export:
    put Python's back for the next test."""
    import signal

    signals = [signal.SIGINT, signal.SIGTERM, *(getattr(signal, n) for n in ("SIGHUP", "SIGUSR1") if hasattr(signal, n))]
    before = {s: signal.getsignal(s) for s in signals}
    yield
    for s, handler in before.items():
        if signal.getsignal(s) is not handler:
            signal.signal(s, handler)
