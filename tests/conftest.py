import pytest
import torch

# One torch thread for the tests run in this process. Their tensors are tiny: a second thread
# buys them little, and each parallel op waits at a barrier until both threads are scheduled.
# On two cores oversubscribed by other work (a benchmark, the `nasiam` processes the tests
# spawn) that wait multiplied their times: back to back, the fast lane's summed durations fell
# from 673 s to 308 s and from 621 s to 373 s; under a lighter load they were even (302 s, 307 s)
# and one thread used a quarter less CPU. Processes the tests spawn choose their own threads.
torch.set_num_threads(1)


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
