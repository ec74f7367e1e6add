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
    """A CLI command called in-process may leave its own SIGINT handler for the process's last
    moments (`nasiam export` after a finished export): put Python's back for the next test."""
    import signal

    before = signal.getsignal(signal.SIGINT)
    yield
    if signal.getsignal(signal.SIGINT) is not before:
        signal.signal(signal.SIGINT, before)
