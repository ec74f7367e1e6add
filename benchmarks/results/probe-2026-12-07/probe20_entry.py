# ruff: noqa: E401, E402, E701, E702, E731, E741, F401, F841, I001  (a probe script: compact on purpose)
"""probe 20: the entry point (842b44b): lazy nasiam.<submodule>, dir(nasiam), Ctrl-C while loading, stderr closed.
Run from the probe folder with PYTHONPATH at it."""
import os, signal, subprocess, sys, time
PY = sys.executable
def py(code):
    r = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=120)
    print(f"  rc={r.returncode} out={r.stdout.strip()[-400:]!r} err={r.stderr.strip()[-300:]!r}")
print("N1 submodules and names"); py("import nasiam,sys; print(nasiam.space.register_activation.__name__, nasiam.head.DirectPredLinear.__name__, nasiam.errors.__name__, 'torch' in sys.modules)")
print("N2 dir"); py("import nasiam; print(dir(nasiam))")
print("N3 hasattr of missing/dunder/private names, getattr default"); py("import nasiam; print(hasattr(nasiam,'nosuch'), hasattr(nasiam,'__wrapped__'), hasattr(nasiam,'_version'), getattr(nasiam,'Nope',1), hasattr(nasiam,'__path__'))")
print("N4 inspect / doctest finder over nasiam"); py("import nasiam, inspect, doctest; inspect.unwrap(nasiam); print(len(doctest.DocTestFinder().find(nasiam)))")
print("N5 from nasiam import space, head, cli (submodule import as names)"); py("from nasiam import space, head, cli; import nasiam; print(nasiam.cli is cli)")
print("N6 nasiam.integrations.lightly via attribute chain"); py("import nasiam; print(nasiam.integrations.__name__)")
print("N7 unittest.mock.patch('nasiam.space.register_activation')"); py("import nasiam; from unittest import mock\nwith mock.patch('nasiam.space.register_activation') as m: print(nasiam.space.register_activation is m)")
print("N8 importlib.reload(nasiam) then nasiam.space"); py("import nasiam, importlib; nasiam.space; importlib.reload(nasiam); print(nasiam.space.__name__)")
def sig(label, argv, at, stderr=subprocess.PIPE, twice=None):
    t0 = time.time(); p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, text=True, start_new_session=True)
    time.sleep(at); p.send_signal(signal.SIGINT)
    first_line_at = None
    if twice: time.sleep(twice); p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    print(f"{label}: rc={p.returncode} after {time.time()-t0:.1f}s out={out.strip()[-200:]!r} err={(err or '').strip()[-300:]!r}")
M = [PY, "-m", "nasiam"]
sig("S1 Ctrl-C at 1 s during `eval knn --help`", M + ["eval", "knn", "--help"], 1.0)
sig("S2 Ctrl-C at 1 s, stderr closed", M + ["eval", "knn", "--help"], 1.0, stderr=subprocess.DEVNULL)
r = subprocess.run(" ".join(M) + " --version 2>&-; echo rc=$?", shell=True, capture_output=True, text=True); print("S3 --version 2>&-:", r.stdout.strip())
r = subprocess.run(" ".join(M) + " nosuch 2>&-; echo rc=$?", shell=True, capture_output=True, text=True); print("S4 bad command 2>&-:", repr(r.stdout.strip()))
r = subprocess.run(" ".join(M) + " eval knn /nonexistent 2>&-; echo rc=$?", shell=True, capture_output=True, text=True); print("S5 eval knn /nonexistent 2>&-:", repr(r.stdout.strip()[-200:]))
# the first Ctrl-C is said at once: time to the first stderr line
p = subprocess.Popen(M + ["eval", "knn", "--help"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
time.sleep(0.8); t = time.time(); p.send_signal(signal.SIGINT); line = p.stderr.readline(); dt = time.time() - t
rest = p.stderr.read(); p.wait(); print(f"S6 first line {dt:.2f}s after Ctrl-C: {line.strip()!r}; then rc={p.returncode} {rest.strip()[-200:]!r}")
