# ruff: noqa: E402, E702, E741  (a probe script: compact on purpose)
"""Q/Part B: `nasiam eval curves` of two different runs whose folders share a name (runs/a/best,
runs/b/best): their curves averaged into one, silently?"""
import contextlib
import io
import json
import os

P = os.environ["PROBE"]; os.chdir(P)
from nasiam.cli import main

for exp, base in (("a", 10), ("b", 90)):
    os.makedirs(f"same/{exp}/best", exist_ok=True)
    json.dump({"epochs": [{"epoch": e, "knn_top1": base + e} for e in range(1, 4)]}, open(f"same/{exp}/best/summary.json", "w"))
err = io.StringIO()
with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()) as out:
    rc = main(["eval", "curves", "same/a/best", "same/b/best", "--out", "same/c.png"])
print("rc", rc, "stderr", repr(err.getvalue()), "stdout", repr(out.getvalue()))
