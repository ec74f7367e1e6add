# ruff: noqa: E402, E702, E741  (a probe script: compact on purpose)
"""Q/P1: the entry point's guard with SIGINT ignored (a script's `cmd &`), and two Ctrl-Cs with
stderr closed (the guard's os.write(2, ...) in a signal handler)."""
import os
import signal
import subprocess
import time

PY = "/work/main/.venv/bin/python"
CONSOLE = ["-c", "import sys\nfrom nasiam.__main__ import main\nsys.argv[0] = 'nasiam'\nsys.exit(main())"]
def start(args, ign=False, close_err=False):
    def pre():
        signal.signal(signal.SIGINT, signal.SIG_IGN if ign else signal.SIG_DFL)
        if close_err:
            os.close(2)
    return subprocess.Popen([PY, *CONSOLE, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL if close_err else subprocess.PIPE,
                            preexec_fn=pre, text=True)
for label, ign, close_err, times in (("ignored SIGINT, one at 1.0", True, False, [1.0]),
                                     ("stderr closed, two at 1.0/1.2", False, True, [1.0, 1.2]),
                                     ("stderr closed, one at 1.0", False, True, [1.0])):
    t0 = time.time(); p = start(["--version"], ign, close_err)
    for t in times:
        time.sleep(max(0, t0 + t - time.time())); p.poll() is None and p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    print(f"[{label}] rc={p.returncode} {time.time()-t0:.1f}s stdout={out.strip()!r} stderr={(err or '').strip()[-200:]!r}")
