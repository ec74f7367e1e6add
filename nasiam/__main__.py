"""The command line's entry point, for `nasiam ...` (the console script) and `python -m nasiam`.

It guards the interpreter's first and last seconds, where `nasiam.cli.main`'s own handlers are
not yet (or no longer) in place: the import of torch, and the teardown after the command. Both
ways in come here first; `import nasiam` loads no torch, so the guard is installed before it.
"""
import atexit
import os
import signal
import sys

from nasiam.errors import INTERRUPTED_WHILE_STARTING  # no torch: see nasiam/__init__.py


def _ignore_ctrl_c() -> None:
    # the interpreter's teardown (seconds with torch loaded) resets Python's handlers to the
    # default, so a Ctrl-C then killed a finished command: exit 130, no word, over complete
    # outputs. An ignored SIGINT survives the teardown.
    if signal.getsignal(signal.SIGINT) is not None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _exit_now_with(code: int):
    def exit_now(signum, frame) -> None:
        """Ctrl-C (or SIGTERM) while the finished command shuts down (threads joined, exit
        handlers): leave at once with the status it already has, rather than 130 (143) over its
        outputs."""
        try:
            name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
            print(f"\nnasiam: the command had finished (exit {code}) when {name} came; nothing to stop",
                  file=sys.stderr, flush=True)
            sys.stdout.flush()
        except Exception:   # stderr closed or gone
            pass
        os._exit(code)
    return exit_now


def _say(text: str) -> None:
    """A line to stderr, or nowhere: with stderr closed (`2>&-`) print(file=sys.stderr) wrote to
    stdout, and os.write raised inside a signal handler (#33 probe 19, Q11)."""
    try:
        os.write(2, f"{text}\n".encode())
    except OSError:
        pass


def _import_command():
    """`nasiam.cli.main`, imported with its parser's modules, or None after a Ctrl-C meanwhile.

    The imports take seconds (torch), and a KeyboardInterrupt raised inside them was a traceback
    (#33 probe 16, M14; through the console script, which never ran this module, probe 18, P1)
    or worse: torch's or numpy's half-finished import then failed with a RecursionError, or
    pybind11 aborted the process. So a first Ctrl-C is noted, said so at once, and acted on when
    the imports are done; a second leaves at once."""
    interrupted = []

    def note(signum, frame) -> None:
        if interrupted:
            _say(f"\n{INTERRUPTED_WHILE_STARTING}")
            os._exit(130)
        interrupted.append(signum)
        _say("\nnasiam: Ctrl-C while loading: stopping once loaded (Ctrl-C again to leave now)")

    ignored = signal.getsignal(signal.SIGINT) == signal.SIG_IGN   # a script's `cmd &`: left so
    previous = None if ignored else signal.signal(signal.SIGINT, note)
    try:
        from nasiam.cli import build_parser, main
        build_parser()   # its options' choices import the data and backbone modules
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    return None if interrupted else main


def main() -> int:
    atexit.register(_ignore_ctrl_c)   # registered first, so it runs after every other exit handler
    run_command = _import_command()
    if run_command is None:
        _say(INTERRUPTED_WHILE_STARTING)
        return 130
    code = run_command()
    for signum in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(signum) != signal.SIG_IGN:   # a script's `cmd &` ignores SIGINT: left so
            signal.signal(signum, _exit_now_with(code))
    return code


if __name__ == "__main__":
    sys.exit(main())
