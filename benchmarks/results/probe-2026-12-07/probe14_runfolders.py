# ruff: noqa: E401, E402, E701, E702, E731  (probe scripts: short setups on one line; imports beside the probes that use them)
"""Fourteenth probe of #33 (h49): the Python API on run folders (a finished `nasiam search` run, runs/s0, and an export e1).
Usage: python probe14_runfolders.py CLI_FOLDER (the probe's cli/ folder, holding runs/s0 and e1)"""
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from torch import nn

os.chdir(sys.argv[1])


def probe(pid, fn):
    t = time.perf_counter()
    try:
        out = fn(); print(f"{pid}: OK {out!r}"[:500], f"({time.perf_counter()-t:.2f}s)")
    except BaseException as e:
        print(f"{pid}: {type(e).__name__}: {str(e)[:450]!r}", f"({time.perf_counter()-t:.2f}s)")


from nasiam import NASHead, SearchableHead
from nasiam.rundir import load_heads, read_genotypes

probe("RF1-from_pretrained-run-dir", lambda: NASHead.from_pretrained("runs/s0"))
probe("RF2-from_pretrained-run-dir-subfolder", lambda: NASHead.from_pretrained("runs/s0", subfolder="heads/projector").in_dim)
probe("RF3-from_pretrained-export-subfolder", lambda: NASHead.from_pretrained("e1", subfolder="heads/predictor").describe() if False else NASHead.from_pretrained("e1", subfolder="heads/predictor").out_dim)
for d in ("rf4", "rf5"):
    shutil.rmtree(d, ignore_errors=True); shutil.copytree("runs/s0", d)
h = NASHead.from_genotype(SearchableHead(512, 512).genotype(), 512)
probe("RF4-save_pretrained-into-a-run-dir", lambda: (h.save_pretrained("rf4"), read_genotypes("rf4"))[1])
probe("RF4b-run-genotype.json-now", lambda: Path("rf4/genotype.json").read_text()[:120])
probe("RF5-save_pretrained-over-run-heads/projector", lambda: str(h.save_pretrained("rf5/heads/projector")))
py, env = sys.executable, {**os.environ}
tiny = "--dataset synthetic --image_size 16 --batch_size 16 --epochs 1 --subset 64 --knn_subset 64 --num_workers 0".split()
for pid, args in (("RF4c-export-of-rf4", ["export", "rf4", "--out", "rf4x"]),
                  ("RF4d-pretrain--head-rf4", ["pretrain", *tiny, "--head", "rf4", "--out_dir", "runs", "--run_name", "rf4d"]),
                  ("RF5c-pretrain--init-rf5", ["pretrain", *tiny, "--init", "rf5", "--out_dir", "runs", "--run_name", "rf5c"])):
    t = time.perf_counter()
    r = subprocess.run([py, "-m", "nasiam", *args], capture_output=True, text=True, env=env, timeout=300)
    last = [ln for ln in (r.stdout + r.stderr).splitlines() if ln.strip()][-1:]
    print(f"{pid}: rc={r.returncode} {last!r}"[:500], f"({time.perf_counter()-t:.2f}s)")
# lightly's own SimSiam with a run's heads
from lightly.models.modules import SimSiamPredictionHead, SimSiamProjectionHead

from nasiam.integrations.lightly import replace_heads

m = nn.Module(); m.projection_head = SimSiamProjectionHead(512, 512, 512); m.prediction_head = SimSiamPredictionHead(512, 128, 512)
probe("RF6-lightly-replace_heads-from-run", lambda: {k: type(v).__name__ for k, v in replace_heads(m, "runs/s0").items()})
m2 = nn.Module(); m2.projection_head = SimSiamProjectionHead(512, 2048, 2048); m2.prediction_head = SimSiamPredictionHead(2048, 512, 2048)
probe("RF7-lightly-replace_heads-run-other-widths", lambda: replace_heads(m2, "runs/s0"))
probe("RF8-lightly-replace_heads-genotype-file-other-widths", lambda: {k: (v.in_dim, v.out_dim) for k, v in replace_heads(m2, "runs/s0/genotype.json").items()})
probe("RF9-load_heads-export", lambda: sorted(load_heads("e1")))
