"""This probe's defects G1 (L4), G2, G3 (K1), G7 (CJ1) again, on the newest main (1edaf8e), in one
process: do they still hold after the ninth probe's fixes? usage: python probe10_onmain.py T"""
import contextlib
import io
import json
import os
import sys

T = sys.argv[1]
N = os.path.join(T, "onmain")
os.makedirs(N, exist_ok=True)
import torch  # noqa: E402

from nasiam import NASHead, SearchableHead, recalibrate_batchnorm  # noqa: E402
from nasiam.cli import main  # noqa: E402
from nasiam.rundir import write_search_genotypes  # noqa: E402

TINY = "--dataset synthetic --image_size 16 --batch_size 16 --epochs 1 --subset 64 --knn_subset 64 --num_workers 0".split()


def run(pid, argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as e:
            rc = e.code
    raw = sum((out.getvalue() + err.getvalue()).count(c) for c in "\x1b\x07\x9b")
    print(f"{pid} rc={rc} rawctl={raw} :: {' '.join(err.getvalue().split())[-300:]}", flush=True)


h = NASHead.from_genotype(SearchableHead(16, 8).genotype(), 16)
for pid, batches, kw in (("G2a 0-d batch", [torch.tensor(1.0)], {}),
                         ("G2b max_batches=1, NaN batch after", [torch.randn(8, 16), torch.full((8, 16), float("nan"))], {"max_batches": 1})):
    try:
        print(pid, "ok:", recalibrate_batchnorm(h, batches, **kw))
    except Exception as e:   # noqa: BLE001
        print(pid, type(e).__name__ + ":", str(e)[:160])
torch.manual_seed(0)
d = os.path.join(N, "lab", "esc\x1b[2Jname")
os.makedirs(d, exist_ok=True)
write_search_genotypes(os.path.join(d, "genotype.json"), "simsiam",
                       {"projector": SearchableHead(512, 512).genotype(), "predictor": SearchableHead(512, 512).genotype()})
run("G1 (L4: an unlabelled PATH row, ESC in its folder name)", ["compare", "--seeds", "1", *TINY, "--heads", d, "--report_only", "--out", os.path.join(N, "l4")])
run("G7a (CJ1 setup)", ["compare", "--seeds", "1", *TINY, "--heads", "a_b=default,a-b=paper", "--report_only", "--out", os.path.join(N, "cj1")])
p = os.path.join(N, "cj1", "compare.json")
m = json.load(open(p))
m["schema_version"] = 99
json.dump(m, open(p, "w"))
run("G7 (CJ1: compare.json schema_version 99)", ["compare", "--seeds", "1", *TINY, "--heads", "a_b=default,a-b=paper", "--report_only", "--out", os.path.join(N, "cj1")])
print("G7 schema_version now:", json.load(open(p)).get("schema_version"))
os.makedirs(os.path.join(N, "lk", "fifo"), exist_ok=True)
os.mkfifo(os.path.join(N, "lk", "fifo", ".lock"))
run("G3 (K1: .lock a FIFO)", ["search", *TINY, "--warmup_epochs", "0", "--out_dir", os.path.join(N, "lk"), "--run_name", "fifo"])
