# ruff: noqa: E401, E402, E701, E702, E731, E741, F401, F841, I001  (a probe script: compact on purpose)
"""probe 20: the first Ctrl-C's line, timed on the raw pipe; Ctrl-C with stderr really closed (2>&-)."""
import os, select, signal, subprocess, sys, time
M = [sys.executable, "-m", "nasiam", "eval", "knn", "--help"]
for at in (0.3, 0.8, 2.0):
    p = subprocess.Popen(M, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    time.sleep(at); t = time.time(); p.send_signal(signal.SIGINT)
    select.select([p.stderr], [], [], 30); chunk = os.read(p.stderr.fileno(), 4096); dt = time.time() - t
    rest = p.stderr.read(); p.wait()
    print(f"E1 Ctrl-C at {at}s: first bytes {dt:.2f}s later {chunk[:90]!r}; rc={p.returncode}; total {(chunk+rest).decode().count(chr(10))} lines")
for n, delays in (("one", [1.0]), ("two", [1.0, 0.2])):
    p = subprocess.Popen(["bash", "-c", "exec " + " ".join(M) + " 2>&-"],
                         stdout=subprocess.PIPE, start_new_session=True)
    for d in delays: time.sleep(d); p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=60)
    print(f"E2 {n} Ctrl-C with stderr closed: rc={p.returncode} stdout={out[-200:]!r}")
