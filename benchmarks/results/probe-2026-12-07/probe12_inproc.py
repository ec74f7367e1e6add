# ruff: noqa: E702  (probe scripts: a few edits of one file on a line)
"""Probe 12 (h43): `nasiam.cli.main(argv)` in one process (no training): compare's labels from
paths, compare.json's fields, option values, eval/export arguments, stdout's encoding. Prints
each probe's return code or SystemExit code, stderr's tail, raw control characters in
stdout+stderr; an exception escaping main counts as a traceback.
usage: python probe12_inproc.py TMPDIR  (TMPDIR holds runs/s0, a finished tiny search)"""
import contextlib
import io
import json
import os
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
    print(f"{pid} rc={rc} rawctl={raw} :: {' '.join(err.getvalue().split())[-420:]}", flush=True)
    if show_out:
        print("   stdout:", repr(out.getvalue()[-500:]))
    return rc


torch.manual_seed(0)
G = os.path.join(N, "g.json")
write_search_genotypes(G, "simsiam", {"projector": SearchableHead(512, 512).genotype(),
                                      "predictor": SearchableHead(512, 512).genotype()})
C = ["compare", "--seeds", "1", *TINY]

# labels from paths: '.', '/', a trailing slash, a path given as 'LABEL=' with no label
os.makedirs(f"{N}/here", exist_ok=True)
open(f"{N}/here/genotype.json", "wb").write(open(G, "rb").read())
cwd = os.getcwd(); os.chdir(f"{N}/here")
run("LB1 --heads . (the folder's name is '')", [*C, "--heads", ".", "--report_only", "--out", f"{N}/lb1"])
run("LB2 --heads ./ ", [*C, "--heads", "./", "--report_only", "--out", f"{N}/lb2"])
run("LB3 --heads genotype.json (stem 'genotype')", [*C, "--heads", "genotype.json", "--report_only", "--out", f"{N}/lb3"])
run("LB4 --heads =genotype.json (an empty label)", [*C, "--heads", "=genotype.json", "--report_only", "--out", f"{N}/lb4"])
os.chdir(cwd)
run("LB5 --heads default, (a trailing comma)", [*C, "--heads", "default,", "--report_only", "--out", f"{N}/lb5"])
run("LB6 --heads 'default,,paper'", [*C, "--heads", "default,,paper", "--report_only", "--out", f"{N}/lb6"])
run("LB7 a label 'random' (a row kind's name)", [*C, "--heads", f"random={N}/here", "--report_only", "--out", f"{N}/lb7"])
run("LB8 a label 'search1' beside 'search' (a generated name)", [*C, "--heads", f"search1={N}/here,search", "--report_only", "--out", f"{N}/lb8"])
os.makedirs(f"{N}/lab/default", exist_ok=True)
open(f"{N}/lab/default/genotype.json", "wb").write(open(G, "rb").read())
run("LB10 a PATH row whose folder is 'default' beside paper (no default row): the reference?",
    [*C, "--heads", f"{N}/lab/default,paper", "--report_only", "--out", f"{N}/lb10"], True)
run("LB11 explicit default=paper beside directpred", [*C, "--heads", "default=paper,directpred", "--report_only", "--out", f"{N}/lb11"], True)
run("LB9 a label 'search1-s0' (a run folder's name)", [*C, "--heads", f"search1-s0={N}/here,search", "--report_only", "--out", f"{N}/lb9"])

# compare.json fields (H3, unknown keys, is known): 'common' and 'pinned_heads' with odd values
run("CJ0 setup", [*C, "--heads", f"m={N}/here,default", "--report_only", "--out", f"{N}/cj"])
p = f"{N}/cj/compare.json"
orig = open(p).read()
print("   compare.json keys:", sorted(json.loads(orig)), "pinned:", json.loads(orig).get("pinned_heads"))
for pid, edit in (("CJ1 common.epochs a list [1]", lambda m: m["common"].__setitem__("epochs", [1])),
                  ("CJ2 common.epochs an object", lambda m: m["common"].__setitem__("epochs", {"a": 1})),
                  ("CJ3 common holds a non-option key 'evil'", lambda m: m["common"].__setitem__("evil", "1")),
                  ("CJ4 common.epochs '1e0'", lambda m: m["common"].__setitem__("epochs", "1e0")),
                  ("CJ5 pinned_heads.m a string (the pin lost)", lambda m: m["pinned_heads"].__setitem__("m", "x")),
                  ("CJ6 pinned_heads.m.sha256 a list", lambda m: m["pinned_heads"]["m"].__setitem__("sha256", [1])),
                  ("CJ7 pinned_heads.m.path another file", lambda m: m["pinned_heads"]["m"].__setitem__("path", "/etc/passwd")),
                  ("CJ8 random_genotypes a string", lambda m: m.__setitem__("random_genotypes", "x")),
                  ("CJ9 finished_summaries {'default-s0': 'zz'}", lambda m: m.__setitem__("finished_summaries", {"default-s0": "zz"}))):
    m = json.loads(orig); edit(m); open(p, "w").write(json.dumps(m))
    run(pid, [*C, "--heads", f"m={N}/here,default", "--report_only", "--out", f"{N}/cj"])
    after = json.loads(open(p).read())
    print("   pinned after:", after.get("pinned_heads"), "| common.epochs:", after.get("common", {}).get("epochs"))
    open(p, "w").write(orig)
# CJ5 then a changed head file: is the edit caught?
m = json.loads(orig); m["pinned_heads"]["m"] = "x"; open(p, "w").write(json.dumps(m))
g2 = json.loads(open(f"{N}/here/genotype.json").read())
edited = f"{N}/edited"; os.makedirs(edited, exist_ok=True)
write_search_genotypes(f"{edited}/genotype.json", "simsiam", {"projector": SearchableHead(512, 512, num_layers=3).genotype(),
                                                              "predictor": SearchableHead(512, 512).genotype()})
run("CJ10 pin damaged to a string, then the row's file replaced", [*C, "--heads", f"m={edited},default", "--report_only", "--out", f"{N}/cj"])
print("   pinned after:", json.loads(open(p).read()).get("pinned_heads"))

# option values
# (an option value that is accepted would start a search: each runs against a missing image folder,
# so an accepted value ends with the data's refusal, exit 2, naming --data_root, before any training)
S = ["search", *TINY, "--warmup_epochs", "0", "--out_dir", f"{N}/opt", "--dataset", "imagefolder", "--data_root", f"{N}/nodata"]
for pid, extra in (("OP1 --lr nan", ["--lr", "nan"]), ("OP2 --lr -inf", ["--lr", "-inf"]), ("OP3 --lr 1e309", ["--lr", "1e309"]),
                   ("OP4 --seed -1", ["--seed", "-1"]), ("OP5 --seed 2**64", ["--seed", str(2 ** 64)]),
                   ("OP6 --epochs 1.5", ["--epochs", "1.5"]), ("OP7 --epochs ' 1'", ["--epochs", " 1"]),
                   ("OP8 --epochs '１' (fullwidth digit)", ["--epochs", "\uff11"]), ("OP9 --epochs '1_0'", ["--epochs", "1_0"]),
                   ("OP10 --run_name ''", ["--run_name", ""]), ("OP11 --run_name '.'", ["--run_name", "."]),
                   ("OP12 --run_name '..'", ["--run_name", ".."]), ("OP13 --run_name 'a/b'", ["--run_name", "a/b"]),
                   ("OP14 --out_dir ''", ["--out_dir", ""]), ("OP15 --image_size 1", ["--image_size", "1"]),
                   ("OP16 --batch_size 2**40", ["--batch_size", str(2 ** 40)]), ("OP17 --subset 1", ["--subset", "1"]),
                   ("OP18 --dataset 'synthetic\\x1b[2J'", ["--dataset", "synthetic\x1b[2J"]),
                   ("OP19 --config /dev/zero", ["--config", "/dev/zero"]), ("OP20 --config a FIFO", ["--config", f"{N}/fifo"]),
                   ("OP21 --config a YAML alias bomb", ["--config", f"{N}/bomb.yaml"]),
                   ("OP22 --config a YAML with !!python/object", ["--config", f"{N}/py.yaml"]),
                   ("OP23 --framework 'simsiam '", ["--framework", "simsiam "]), ("OP24 --epochs=", ["--epochs="]),
                   ("OP25 --epochs 1 --epochs 2", ["--epochs", "1", "--epochs", "2"]), ("OP26 --no-such", ["--no-such"]),
                   ("OP27 --wandb_project with ESC", ["--logger", "wandb", "--wandb_project", "p\x1b]0;x\x07"]),
                   ("OP28 --data_root /proc", ["--data_root", "/proc"]), ("OP29 --data_root /dev/null", ["--data_root", "/dev/null"])):
    if pid.startswith("OP20") and not os.path.exists(f"{N}/fifo"):
        os.mkfifo(f"{N}/fifo")
    if pid.startswith("OP21"):
        lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"] + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
        open(f"{N}/bomb.yaml", "w").write("\n".join(lines) + "\n")
    if pid.startswith("OP22"):
        open(f"{N}/py.yaml", "w").write("epochs: !!python/object/apply:os.system ['echo PWNED']\n")
    run(pid, [*S, *extra, "--run_name", pid.split()[0].lower()] if "--run_name" not in extra else [*S, *extra])

# eval and export arguments
R = f"{T}/runs/s0"
run("EV1 eval knn with --out a folder", ["eval", "knn", R, "--out", f"{N}"])
run("EV2 eval knn with --out /dev/full", ["eval", "knn", R, "--out", "/dev/full"])
run("EV3 export --rank 0", ["export", R, "--out", f"{N}/ex3", "--rank", "0"])
run("EV4 export --rank 10**6", ["export", R, "--out", f"{N}/ex4", "--rank", str(10 ** 6)])
run("EV5 export --epoch 99", ["export", R, "--out", f"{N}/ex5", "--epoch", "99"])
run("EV6 export --out ''", ["export", R, "--out", ""])
run("EV7 export of an export", ["export", R, "--out", f"{N}/ex7"])
run("EV7b export of that export", ["export", f"{N}/ex7", "--out", f"{N}/ex7b"])
run("EV8 push with a repo id holding ESC", ["push", R, "--repo_id", "a/b\x1b[2J"])
