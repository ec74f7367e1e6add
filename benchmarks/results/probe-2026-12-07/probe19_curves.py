# ruff: noqa: E402, E702, E741  (a probe script: compact on purpose)
"""Q/Part B: `nasiam eval curves` with hostile summary.json files and labels (CLI main in process)."""
import contextlib
import io
import json
import os
import shutil
import time

P = os.environ["PROBE"]; os.chdir(P)
from nasiam.cli import main

C = "curv"; shutil.rmtree(C, ignore_errors=True); os.makedirs(C)
def run_with(name, summary=None, raw=None):
    d = os.path.join(C, name); os.makedirs(d, exist_ok=True)
    with open(f"{d}/summary.json", "w") as f:
        f.write(raw if raw is not None else json.dumps(summary))
    return d
def ep(n, f=lambda e: 50 + e % 7):
    return {"epochs": [{"epoch": e, "knn_top1": f(e)} for e in range(1, n + 1)]}
def curves(label, *args):
    err, out = io.StringIO(), io.StringIO(); t0 = time.time()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            rc = main(["eval", "curves", *args])
    except BaseException as e:
        rc = f"RAISED {type(e).__name__}: {str(e)[:200]}"
    o = args[args.index("--out") + 1] if "--out" in args else "curves.png"
    head = open(o, "rb").read(8) if os.path.isfile(o) else None
    print(f"[{label}] rc={rc} {time.time()-t0:.1f}s out={o} head={head}\n    err: {err.getvalue().strip()[-300:]!r}\n    out: {out.getvalue().strip()[-200:]!r}", flush=True)
ok = run_with("ok", ep(5))
curves("C1 normal", ok, "--out", f"{C}/c1.png")
curves("C2 NaN and inf values", run_with("naninf", {"epochs": [{"epoch": 1, "knn_top1": float("nan")}, {"epoch": 2, "knn_top1": float("inf")}, {"epoch": 3, "knn_top1": 5}]}), "--out", f"{C}/c2.png")
curves("C3 epoch inf / 1e308", run_with("epinf", {"epochs": [{"epoch": float("inf"), "knn_top1": 1}, {"epoch": 1e308, "knn_top1": 2}, {"epoch": 1, "knn_top1": 3}]}), "--out", f"{C}/c3.png")
curves("C4 only inf values", run_with("allinf", {"epochs": [{"epoch": 1, "knn_top1": float("inf")}, {"epoch": 2, "knn_top1": float("-inf")}]}), "--out", f"{C}/c4.png")
curves("C5 300k-deep summary.json", run_with("deep", raw="[" * 300000 + "]" * 300000), "--out", f"{C}/c5.png")
curves("C6 200k epochs", run_with("long", ep(200000)), "--out", f"{C}/c6.png")
curves("C7 label with mathtext '$\\\\frac$'", ok, "--labels", "a$\\frac$b", "--out", f"{C}/c7.png")
curves("C8 label with unbalanced '$x'", ok, "--labels", "lr=1e-3 $x", "--out", f"{C}/c8.png")
d = os.path.join(C, "_baseline"); shutil.copytree(ok, d)
curves("C9 run folder named _baseline (legend?)", d, ok, "--out", f"{C}/c9.png")
curves("C10 --out .pdf", ok, "--out", f"{C}/c10.pdf")
curves("C11 --out .svg", ok, "--out", f"{C}/c11.svg")
curves("C12 --out without suffix", ok, "--out", f"{C}/c12")
curves("C13 labels count mismatch", ok, ok, "--labels", "a", "--out", f"{C}/c13.png")
curves("C14 labels '' ", ok, "--labels", "", "--out", f"{C}/c14.png")
curves("C15 300 runs", *([ok] * 300), "--out", f"{C}/c15.png")
many = [run_with(f"r{i:03d}", ep(3)) for i in range(120)]
curves("C16 120 distinct runs (legend)", *many, "--out", f"{C}/c16.png")
curves("C17 epochs a dict", run_with("epdict", {"epochs": {"1": 2}}), "--out", f"{C}/c17.png")
curves("C18 summary.json a list", run_with("list", raw="[1,2]"), "--out", f"{C}/c18.png")
curves("C19 summary.json not UTF-8", run_with("bin", raw="\udcff".encode("utf-8", "surrogateescape").decode("latin-1")), "--out", f"{C}/c19.png")
curves("C20 label with newline/escape", ok, "--labels", "a\nb\x1b[2J", "--out", f"{C}/c20.png")
curves("C21 --out over an existing non-figure", ok, "--out", f"{C}/ok/summary.json")
curves("C22 knn_top1 huge 1e308 values", run_with("bigval", {"epochs": [{"epoch": 1, "knn_top1": 1e308}, {"epoch": 2, "knn_top1": -1e308}]}), "--out", f"{C}/c22.png")
