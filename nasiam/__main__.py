import atexit
import os
import signal
import sys


def _ignore_ctrl_c() -> None:
    # the interpreter's teardown (seconds with torch loaded) resets Python's handlers to the
    # default, so a Ctrl-C then killed a finished command: exit 130, no word, over complete
    # outputs. An ignored SIGINT survives the teardown.
    if signal.getsignal(signal.SIGINT) is not None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


atexit.register(_ignore_ctrl_c)   # registered first, so it runs after every other exit handler

from nasiam.cli import main  # noqa: E402

code = main()


def _exit_now(signum, frame) -> None:
    """Ctrl-C while the finished command shuts down (threads joined, exit handlers): leave at
    once with the status it already has, rather than 130 over its outputs."""
    try:
        print(f"\nnasiam: the command had finished (exit {code}) when Ctrl-C came; nothing to stop",
              file=sys.stderr, flush=True)
        sys.stdout.flush()
    except Exception:   # stderr closed or gone
        pass
    os._exit(code)


if signal.getsignal(signal.SIGINT) != signal.SIG_IGN:   # a script's `cmd &` ignores it: left so
    signal.signal(signal.SIGINT, _exit_now)
sys.exit(code)
