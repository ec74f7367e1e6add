# ruff: noqa: E401, E402, E701, E702, E731  (probe scripts: short setups on one line; imports beside the probes that use them)
"""Thirteenth probe of #33 (h46): checkpoints, export sizes, swap_head/load_head_sources. Usage: python probe13_lib.py WORKDIR"""
import json
import os
import sys
import time
from pathlib import Path

import torch
from torch import nn

W = Path(sys.argv[1]); W.mkdir(exist_ok=True); os.chdir(W)


def probe(pid, fn):
    t = time.perf_counter()
    try:
        out = fn(); print(f"{pid}: OK {out!r}"[:500], f"({time.perf_counter()-t:.2f}s)")
    except BaseException as e:
        print(f"{pid}: {type(e).__name__}: {str(e)[:400]!r}", f"({time.perf_counter()-t:.2f}s)")


from nasiam.runner.checkpoint import load_checkpoint, save_checkpoint

hdr = {"command": "pretrain"}
torch.manual_seed(0)
# CK1: many records (20,000 tensors, mixed, empty ones, views sharing storage)
base = torch.randn(1000)
state = {f"t{i}": (torch.randn(i % 7) if i % 3 else torch.empty(0)) for i in range(20000)}
state.update(view_a=base[:10], view_b=base[5:500], base=base)
probe("CK1-20000-records", lambda: (save_checkpoint("ck1.ckpt", {"model": state}, hdr), len(load_checkpoint("ck1.ckpt")["model"]))[1])
# CK2: a big one (300 MB, one record) and a few big records
probe("CK2-big-300MB", lambda: (save_checkpoint("ck2.ckpt", {"model": {"w": torch.zeros(75_000_000)}}, hdr), load_checkpoint("ck2.ckpt")["model"]["w"].numel())[1])
os.remove("ck2.ckpt")
probe("CK3-plain-torch.save-every-dtype", lambda: (torch.save({"nasiam": {"format": __import__("nasiam.runner.checkpoint", fromlist=["FORMAT"]).FORMAT, "version": __import__("nasiam.runner.checkpoint", fromlist=["VERSION"]).VERSION}, **{str(d): torch.ones(3, dtype=d) for d in (torch.float16, torch.bfloat16, torch.int8, torch.bool, torch.complex64, torch.float64, torch.uint8)}}, "ck3.ckpt"), sorted(load_checkpoint("ck3.ckpt"))[:3])[1])
# CK4: each framework's state as a run saves it
from nasiam.frameworks import create_framework

for fw in ("simsiam", "simclr", "moco"):
    def one(fw=fw):
        bb = nn.Sequential(nn.Flatten(), nn.Linear(48, 32))
        m = create_framework(fw, bb, 32)
        opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
        m(torch.randn(4, 3, 4, 4), torch.randn(4, 3, 4, 4)) if False else None
        save_checkpoint(f"{fw}.ckpt", {"model": m.state_dict(), "optimizer": opt.state_dict()}, hdr)
        return len(load_checkpoint(f"{fw}.ckpt", "pretrain")["model"])
    probe(f"CK4-{fw}", one)
# CK5: torch.save with the legacy (non-zip) format and with crc off
probe("CK5-crc-off", lambda: (torch.serialization.set_crc32_options(False), save_checkpoint("ck5.ckpt", {"model": {"a": torch.ones(3)}}, hdr), torch.serialization.set_crc32_options(True), len(load_checkpoint("ck5.ckpt")))[3])

# ---- export.json sizes: a made export folder (the check itself: rundir._check_export_files)
from nasiam.rundir import _check_export_files, file_digests, file_sizes


def export(name, edit=None, files=None):
    d = W / name; (d / "heads/projector").mkdir(parents=True, exist_ok=True)
    (d / "heads/projector/head.safetensors").write_bytes(b"h" * 100)
    (d / "backbone.safetensors").write_bytes(b"b" * 1000)
    rec = {"files": file_digests(d), "sizes": file_sizes(d)}
    if edit: edit(rec, d)
    (d / "export.json").write_text(json.dumps(rec))
    _check_export_files(d, d / "export.json", "--init", "export it again")
    return "accepted"
probe("EX1-as-written", lambda: export("ex1"))
probe("EX2-no-sizes (older export)", lambda: export("ex2", lambda r, d: r.pop("sizes")))
probe("EX3-size-negative", lambda: export("ex3", lambda r, d: r["sizes"].update({"backbone.safetensors": -1})))
probe("EX4-size-huge", lambda: export("ex4", lambda r, d: r["sizes"].update({"backbone.safetensors": 10**30})))
probe("EX5-size-string", lambda: export("ex5", lambda r, d: r["sizes"].update({"backbone.safetensors": "1000"})))
probe("EX6-size-float-equal", lambda: export("ex6", lambda r, d: r["sizes"].update({"backbone.safetensors": 1000.0})))
probe("EX7-size-true-for-1byte", lambda: export("ex7", lambda r, d: r["sizes"].update({"backbone.safetensors": True})))
probe("EX8-sizes-list", lambda: export("ex8", lambda r, d: r.update(sizes=[1, 2])))
probe("EX9-sizes-null", lambda: export("ex9", lambda r, d: r.update(sizes=None)))
probe("EX10-sizes-extra-name", lambda: export("ex10", lambda r, d: r["sizes"].update({"nope.bin": 3})))
def grow(r, d):
    (d / "backbone.safetensors").write_bytes(b"b" * 2000)
probe("EX11-file-grown (refused unhashed)", lambda: export("ex11", grow))
def link_big(r, d):
    big = W / "big.sparse"; f = open(big, "wb"); f.truncate(20 << 30); f.close()
    os.remove(d / "backbone.safetensors"); os.symlink(big, d / "backbone.safetensors")
probe("EX12-link-to-20G (sizes recorded)", lambda: export("ex12", link_big))
def link_big_old(r, d):
    r.pop("sizes"); link_big(r, d)
import signal

signal.alarm(20)
try:
    probe("EX13-link-to-20G, older export (no sizes): hashed whole?", lambda: export("ex13", link_big_old))
finally:
    signal.alarm(0)
os.remove(W / "big.sparse")
