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

try:
    # seconds with torch: a Ctrl-C here, before main's handlers, was a KeyboardInterrupt
    # traceback (#33 probe 16, M14)
    from nasiam.cli import main  # noqa: E402
except KeyboardInterrupt:
    print("\nnasiam: interrupted while starting; nothing was done", file=sys.stderr)
    sys.exit(130)

code = main()


def _exit_now(signum, frame) -> None:
    """Ctrl-C (or SIGTERM) while the finished command shuts down (threads joined, exit handlers):
    leave at once with the status it already has, rather than 130 (143) over its outputs."""
    try:
        name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        print(f"\nnasiam: the command had finished (exit {code}) when {name} came; nothing to stop",
              file=sys.stderr, flush=True)
        sys.stdout.flush()
    except Exception:   # stderr closed or gone
        pass
    os._exit(code)


for _signum in (signal.SIGINT, signal.SIGTERM):
    if signal.getsignal(_signum) != signal.SIG_IGN:   # a script's `cmd &` ignores SIGINT: left so
        signal.signal(_signum, _exit_now)
sys.exit(code)
