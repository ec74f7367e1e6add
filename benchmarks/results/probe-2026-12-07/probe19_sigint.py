# ruff: noqa: E402, E702, E741  (a probe script: compact on purpose)
"""Q/P1: SIGINT (or two, or SIGTERM) at many instants after a command starts, through the console
script's way in (`from nasiam.__main__ import main; sys.exit(main())`, as pip's wrapper) and
`python -m nasiam`. The child gets SIG_DFL for SIGINT (preexec_fn), as from a terminal."""
import os
import signal
import subprocess
import tempfile
import time

PY = "/work/main/.venv/bin/python"
CONSOLE = ["-c", "import re, sys\nfrom nasiam.__main__ import main\nsys.argv[0] = 'nasiam'\nsys.exit(main())"]
MODULE = ["-m", "nasiam"]
TINY = "--dataset synthetic --image_size 16 --batch_size 16 --epochs 1 --subset 64 --knn_subset 64 --num_workers 0".split()

def dfl():
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)

def run(label, entry, args, delays, sigs, cwd):
    t0 = time.time()
    p = subprocess.Popen([PY, *entry, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=dfl, text=True)
    for d, s in zip(delays, sigs):
        time.sleep(max(0, t0 + d - time.time()))
        if p.poll() is None:
            p.send_signal(s)
    try:
        out, err = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill(); out, err = p.communicate()
    tb = "Traceback" in err
    last = [l for l in err.strip().splitlines() if l.strip()][-2:]
    print(f"{label:<34} rc={p.returncode:<4} tb={tb!s:<5} {round(time.time()-t0,1):>5}s  {' | '.join(last)[:230]}", flush=True)
    return p.returncode, err

work = tempfile.mkdtemp(prefix="sig", dir=os.environ.get("PROBE", "/tmp"))
S, T = signal.SIGINT, signal.SIGTERM
for entry_name, entry in (("console", CONSOLE), ("module", MODULE)):
    for d in (0.0, 0.03, 0.08, 0.15, 0.3, 0.6, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0):
        out = os.path.join(work, f"{entry_name}_{d}")
        run(f"{entry_name} INT@{d}", entry, ["pretrain", *TINY, "--out", out], [d], [S], work)
    for d in (0.3, 1.0, 2.0):
        out = os.path.join(work, f"{entry_name}_two_{d}")
        run(f"{entry_name} INT,INT@{d},{d+0.2}", entry, ["pretrain", *TINY, "--out", out], [d, d + 0.2], [S, S], work)
    for d in (0.3, 1.5):
        out = os.path.join(work, f"{entry_name}_term_{d}")
        run(f"{entry_name} TERM@{d}", entry, ["pretrain", *TINY, "--out", out], [d], [T], work)
    for d in (0.5, 1.5):
        run(f"{entry_name} --help INT@{d}", entry, ["--help"], [d], [S], work)
        run(f"{entry_name} --version INT@{d}", entry, ["--version"], [d], [S], work)
        run(f"{entry_name} eval --help INT@{d}", entry, ["eval", "--help"], [d], [S], work)
print("outputs left:", sorted(os.listdir(work)))
for name in sorted(os.listdir(work)):
    print(" ", name, sorted(os.listdir(os.path.join(work, name)))[:8] if os.path.isdir(os.path.join(work, name)) else "file")
