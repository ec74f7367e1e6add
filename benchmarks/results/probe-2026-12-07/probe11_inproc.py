# ruff: noqa: E702  (probe scripts: a few edits of one file on a line)
"""Probe 11 (h41): the tenth's G1, G3, G7 re-run on main HEAD, and new inputs around today's code
(_label_from_path, _check_schema_version, the non-regular .lock checks, describe_holder), each as
`nasiam.cli.main(argv)` in this one process: its return code or SystemExit code, stderr's tail, raw
control characters in stdout+stderr, an exception escaping main counted as a traceback.
usage: python probe11_inproc.py TMPDIR"""
import contextlib
import io
import json
import os
import socket
import sys

T = sys.argv[1]
N = os.path.join(T, "ip")
os.makedirs(N, exist_ok=True)
import torch  # noqa: E402

from nasiam import SearchableHead  # noqa: E402
from nasiam.cli import main  # noqa: E402
from nasiam.rundir import write_search_genotypes  # noqa: E402

TINY = "--dataset synthetic --image_size 16 --batch_size 16 --epochs 1 --subset 64 --knn_subset 64 --num_workers 0".split()


def run(pid, argv, show_out=False):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as e:
            rc = e.code
        except BaseException as e:   # noqa: BLE001
            rc = f"TRACEBACK {type(e).__name__}: {e}"
    text = out.getvalue() + err.getvalue()
    raw = sum(text.count(c) for c in "\x1b\x07\x9b")
    print(f"{pid} rc={rc} rawctl={raw} :: {' '.join(err.getvalue().split())[-400:]}", flush=True)
    if show_out:
        print("   stdout:", repr(out.getvalue()[-600:]))
    return rc


torch.manual_seed(0)
G = os.path.join(N, "g.json")
write_search_genotypes(G, "simsiam", {"projector": SearchableHead(512, 512).genotype(),
                                      "predictor": SearchableHead(512, 512).genotype()})


def lab(name, fname="genotype.json"):
    d = os.path.join(N, "lab", name)
    os.makedirs(d, exist_ok=True)
    with open(G, "rb") as s, open(os.path.join(d, fname), "wb") as w:
        w.write(s.read())
    return d


C = ["compare", "--seeds", "1", *TINY]
# G1 re-run (L4, L3, L7)
run("G1/L4 ESC in an unlabelled PATH row's folder name", [*C, "--heads", lab("esc\x1b[2Jname"), "--report_only", "--out", f"{N}/l4"])
run("G1/L3 NFC and NFD folders", [*C, "--heads", lab("\u00e9") + "," + lab("e\u0301"), "--report_only", "--out", f"{N}/l3"])
run("G1/L7 a 250-character folder name", [*C, "--heads", lab("a" * 250), "--report_only", "--out", f"{N}/l7"])
# new: _label_from_path
run("P1 folder name 'abc' + trailing newline ($ in _LABEL matches before a final \\n)", [*C, "--heads", lab("abc\n"), "--report_only", "--out", f"{N}/p1"], True)
print("   p1 results.md:", repr(open(f"{N}/p1/results.md").read()[:400]) if os.path.exists(f"{N}/p1/results.md") else "none", "| p1:", os.listdir(f"{N}/p1") if os.path.exists(f"{N}/p1") else "none")
run("P2 two rows lab/x/genotype.json and lab/y/genotype.json (both stem 'genotype')",
    [*C, "--heads", os.path.join(lab("x"), "genotype.json") + "," + os.path.join(lab("y"), "genotype.json"), "--report_only", "--out", f"{N}/p2"])
run("P3 `--heads lab/x/..` (name '..')", [*C, "--heads", os.path.join(lab("x"), ".."), "--report_only", "--out", f"{N}/p3"])
run("P4 a file named '.json' (stem '.json')", [*C, "--heads", os.path.join(lab("hid", ".json"), ".json"), "--report_only", "--out", f"{N}/p4"])
run("P5 folder '-rf' (starts with '-')", [*C, "--heads", lab("-rf"), "--report_only", "--out", f"{N}/p5"])
run("P6 folder 'a' + 64 chars (65)", [*C, "--heads", lab("a" * 65), "--report_only", "--out", f"{N}/p6"])
run("P7 folder named 'search' beside search row", [*C, "--heads", "search," + lab("search"), "--report_only", "--out", f"{N}/p7"])
run("P8 folder names 'A' and 'a' (case twins)", [*C, "--heads", lab("A") + "," + lab("a"), "--report_only", "--out", f"{N}/p8"])
# G7 re-run and new _check_schema_version inputs
run("G7 setup", [*C, "--heads", "a_b=default,a-b=paper", "--report_only", "--out", f"{N}/cj"])
p = f"{N}/cj/compare.json"
orig = open(p).read()
for pid, value in (("G7/CJ1 schema_version 99", 99), ("S1 schema_version '1'", "1"), ("S2 schema_version true", True),
                   ("S3 schema_version 1.0", 1.0), ("S4 schema_version 0", 0), ("S5 schema_version -1", -1),
                   ("S6 schema_version a 5000-digit int", "BIG"), ("S7 schema_version missing", "MISSING"),
                   ("S8 schema_version ESC string", "\x1b[2Jx"), ("S9 schema_version nested 100-deep list", "DEEP")):
    m = json.loads(orig)
    if value == "MISSING":
        m.pop("schema_version")
        text = json.dumps(m)
    elif value == "BIG":
        text = json.dumps(m).replace('"schema_version": 1', '"schema_version": ' + "9" * 5000)
    elif value == "DEEP":
        text = json.dumps(m).replace('"schema_version": 1', '"schema_version": ' + "[" * 100 + "]" * 100)
    else:
        m["schema_version"] = value
        text = json.dumps(m)
    open(p, "w").write(text)
    before = open(p).read()
    run(pid, [*C, "--heads", "a_b=default,a-b=paper", "--report_only", "--out", f"{N}/cj"])
    print("   compare.json unchanged:", open(p).read() == before)
open(p, "w").write(orig)
m = json.loads(orig); m["evil"] = {"x": 1}; open(p, "w").write(json.dumps(m))
run("G7/CJ3 an unknown top-level key", [*C, "--heads", "a_b=default,a-b=paper", "--report_only", "--out", f"{N}/cj"])
print("   evil kept:", "evil" in json.load(open(p)))
open(p, "w").write(orig)
open(p, "w").write(orig.replace('"schema_version": 1', '"schema_version": 1, "schema_version": 99'))
run("S10 schema_version twice (1, then 99)", [*C, "--heads", "a_b=default,a-b=paper", "--report_only", "--out", f"{N}/cj"])
open(p, "w").write(orig.replace('"schema_version": 1', '"schema_version": 99, "schema_version": 1'))
run("S11 schema_version twice (99, then 1)", [*C, "--heads", "a_b=default,a-b=paper", "--report_only", "--out", f"{N}/cj"])
open(p, "w").write(orig)
# G3 re-run, and other non-regular .lock files
S = [*TINY, "--warmup_epochs", "0", "--out_dir", f"{N}/lk"]
os.makedirs(f"{N}/lk/fifo", exist_ok=True); os.mkfifo(f"{N}/lk/fifo/.lock")
run("G3/K1 .lock a FIFO (search)", ["search", *S, "--run_name", "fifo"])
os.makedirs(f"{N}/lk/sock", exist_ok=True)
sk = socket.socket(socket.AF_UNIX); sk.bind(f"{N}/lk/sock/.lock")
run("K4 .lock a unix socket (search)", ["search", *S, "--run_name", "sock"])
os.makedirs(f"{N}/lk/dangling", exist_ok=True); os.symlink("/nonexistent/x", f"{N}/lk/dangling/.lock")
run("K5 .lock a dangling link (search)", ["search", *S, "--run_name", "dangling"])
os.makedirs(f"{N}/lk/hard", exist_ok=True); open(f"{N}/victim.txt", "w").write("user data\n"); os.link(f"{N}/victim.txt", f"{N}/lk/hard/.lock")
run("K6 .lock a hard link to a user's file (search)", ["search", *S, "--run_name", "hard"])
print("   victim.txt now:", repr(open(f"{N}/victim.txt").read()[:80]))
# compare's live-lock check on non-regular locks (describe_holder)
for kind in ("fifo", "sock", "dir", "devnull"):
    d = f"{N}/cl_{kind}/runs/default-s0"
    os.makedirs(d, exist_ok=True)
    if kind == "fifo":
        os.mkfifo(f"{d}/.lock")
    elif kind == "sock":
        s2 = socket.socket(socket.AF_UNIX); s2.bind(f"{d}/.lock")
    elif kind == "dir":
        os.mkdir(f"{d}/.lock")
    else:
        os.symlink("/dev/null", f"{d}/.lock")
    run(f"K7-{kind} compare --out whose runs/default-s0/.lock is a {kind}", [*C, "--heads", "default", "--out", f"{N}/cl_{kind}"])
