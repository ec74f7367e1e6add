# ruff: noqa: E401, E402, E701, E702, E731, E741, F401, F841, I001  (a probe script: compact on purpose)
"""probe 20: eval curves after d3f3f1b/b82c1a0: labels by path parts, --labels averaging, --out formats,
replacing an earlier figure, values. In process through nasiam.cli.main (run from the probe folder)."""
import json, os, sys, contextlib, io
from pathlib import Path
from nasiam.cli import main

def run(name, *argv):
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            rc = main(["eval", "curves", *argv])
        except SystemExit as e:
            rc = e.code
    text = (out.getvalue() + err.getvalue()).strip().splitlines()
    print(f"{name}: rc={rc} | " + " / ".join(text[-2:]))

def summary(folder, values, epochs=None):
    Path(folder).mkdir(parents=True, exist_ok=True)
    eps = epochs or list(range(1, len(values) + 1))
    Path(folder, "summary.json").write_text(json.dumps(
        {"framework": "simsiam", "epochs": [{"epoch": e, "knn_top1": v} for e, v in zip(eps, values)]}))

C = Path("curv"); C.mkdir(exist_ok=True)
summary(C / "seed0/best", [10, 20, 30]); summary(C / "seed1/best", [12, 22, 32]); summary(C / "c", [5, 6, 7])
run("L1 seed0/best seed1/best c (default labels)", str(C / "seed0/best"), str(C / "seed1/best"), str(C / "c"), "--out", "curv/l1.png")
run("L2 same with --labels s,s,c (seeds averaged)", str(C / "seed0/best"), str(C / "seed1/best"), str(C / "c"), "--labels", "s,s,c", "--out", "curv/l2.png")
run("L3 one run given twice, one through a trailing slash", str(C / "c"), str(C / "c") + "/", "--out", "curv/l3.png")
os.path.lexists(C / "clink") or os.symlink(os.path.abspath(C / "c"), C / "clink")
run("L4 a run and a link to it", str(C / "c"), str(C / "clink"), "--out", "curv/l4.png")
run("L5 '.' as a run (cwd is the run)", ".", "--out", "l5.png") if False else None
os.chdir(C / "c"); run("L5 '.' and ../seed0/best", ".", "../seed0/best", "--out", "../l5.png"); os.chdir("../..")
for ext in ["pdf", "svg", "jpg", "jpeg", "eps", "ps", "PNG", "Pdf", "tiff", "tif", "webp", "svgz", "png.tmp"]:
    run(f"F {ext}", str(C / "c"), "--out", f"curv/f.{ext}")
    p = Path(f"curv/f.{ext}")
    if p.exists():
        print("   head:", p.read_bytes()[:12])
        run(f"F {ext} again (replace)", str(C / "c"), "--out", f"curv/f.{ext}")
# replacing figures other tools wrote: an SVG with a BOM / a DOCTYPE / leading newline, a PDF from LaTeX, a TIFF
Path("curv/other.svg").write_text('\ufeff<?xml version="1.0"?><svg/>', encoding="utf-8")
run("F svg with a BOM (Inkscape/Windows)", str(C / "c"), "--out", "curv/other.svg")
Path("curv/other2.svg").write_text('\n<svg xmlns="http://www.w3.org/2000/svg"/>')
run("F svg with a leading newline", str(C / "c"), "--out", "curv/other2.svg")
Path("curv/other3.svg").write_text('<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" ""><svg/>')
run("F svg with a DOCTYPE first", str(C / "c"), "--out", "curv/other3.svg")
Path("curv/other.eps").write_bytes(b"\xc5\xd0\xd3\xc6" + b"\0" * 40)   # DOS EPS binary header
run("F eps with a DOS binary header", str(C / "c"), "--out", "curv/other.eps")
Path("curv/empty.png").write_bytes(b"")
run("F an empty earlier .png (a killed earlier write)", str(C / "c"), "--out", "curv/empty.png")
# values
summary(C / "v0", [10, 20], epochs=[0, 1]); run("V epoch 0 (a kNN before the first epoch)", str(C / "v0"), "--out", "curv/v0.png")
summary(C / "v1", [0.0, 100.0]); run("V 0 and 100", str(C / "v1"), "--out", "curv/v1.png")
summary(C / "v2", [50, 50], epochs=[1.0, 2.0]); run("V float epochs 1.0 2.0", str(C / "v2"), "--out", "curv/v2.png")
summary(C / "v3", [50, 100.00000000000001]); run("V 100.00000000000001", str(C / "v3"), "--out", "curv/v3.png")
