# ruff: noqa: E401, E402, E701, E702, E731  (probe scripts: short setups on one line; imports beside the probes that use them)
"""Fourteenth probe of #33 (h49), part 2: frameworks' forward, follow-ups, lightly/Lightning/timm. Usage: python probe14_lib2.py WORKDIR"""
import json
import os
import signal
import sys
import time
from pathlib import Path

import torch
from torch import nn

W = Path(sys.argv[1]); W.mkdir(exist_ok=True); os.chdir(W)


class Slow(Exception): pass


def probe(pid, fn, limit=60):
    t = time.perf_counter()
    signal.signal(signal.SIGALRM, lambda *a: (_ for _ in ()).throw(Slow(f"still running after {limit}s")))
    signal.alarm(limit)
    try:
        out = fn(); print(f"{pid}: OK {out!r}"[:600], f"({time.perf_counter()-t:.2f}s)")
    except BaseException as e:
        signal.alarm(0)
        print(f"{pid}: {type(e).__name__}: {str(e)[:500]!r}", f"({time.perf_counter()-t:.2f}s)")
    finally:
        signal.alarm(0)


from nasiam import Genotype, NASHead, SearchableHead
from nasiam.frameworks import create_framework

torch.manual_seed(0)
x = torch.randn(4, 3, 4, 4)
for fw in ("simsiam", "simclr", "moco", "mocov3"):
    m = create_framework(fw, nn.Sequential(nn.Flatten(), nn.Linear(48, 32)), 32)
    probe(f"FW1-{fw}-ok", lambda m=m: float(m([x, x])["loss"]))
    probe(f"FW2-{fw}-views-diff-batch", lambda m=m: float(m([x, torch.randn(3, 3, 4, 4)])["loss"]))
    probe(f"FW3-{fw}-views-diff-hw", lambda m=m: float(m([x, torch.randn(4, 3, 5, 5)])["loss"]))
    probe(f"FW4-{fw}-uint8-images", lambda m=m: m([(x * 100).to(torch.uint8)] * 2))
    probe(f"FW5-{fw}-float64", lambda m=m: m([x.double()] * 2))
    probe(f"FW6-{fw}-batch-1-train", lambda m=m: float(m.train()([x[:1], x[:1]])["loss"]))
    probe(f"FW7-{fw}-batch-2", lambda m=m: float(m.train()([x[:2], x[:2]])["loss"]))
    probe(f"FW8-{fw}-nan-view", lambda m=m: float(m([torch.full_like(x, float('nan')), x])["loss"]))
    probe(f"FW9-{fw}-tensor-not-list", lambda m=m: m(x))
    probe(f"FW10-{fw}-3-views", lambda m=m: float(m([x, x, x])["loss"]))
    probe(f"FW11-{fw}-eval-mode", lambda m=m: float(m.eval()([x, x])["loss"]))
    probe(f"FW12-{fw}-meta-views", lambda m=m: m([x.to("meta"), x.to("meta")]))
probe("FW13-backbone-None-forward", lambda: create_framework("simsiam", None, 32)([x, x]))
probe("FW14-backbone-lambda-forward", lambda: float(create_framework("simsiam", lambda v: v.flatten(1)[:, :32], 32)([x, x])["loss"]))
probe("FW15-backbone-wrong-feature_dim", lambda: create_framework("simsiam", nn.Sequential(nn.Flatten(), nn.Linear(48, 32)), 64)([x, x]))
probe("FW16-backbone-returns-4d", lambda: create_framework("simsiam", nn.Conv2d(3, 32, 1), 32)([x, x]))
probe("FW17-backbone-returns-tuple", lambda: create_framework("simsiam", type("T", (nn.Module,), {"forward": lambda s, v: (v.flatten(1)[:, :32], 0)})(), 32)([x, x]))
probe("FW18-heads-unknown-name", lambda: create_framework("simsiam", nn.Flatten(), 48, heads="nope\x1b[2J"))
probe("FW19-heads-mapping-extra-slot", lambda: create_framework("simsiam", nn.Flatten(), 48, heads={"projector": "default", "evil": "x"}))
probe("FW20-num_layers-huge", lambda: create_framework("simsiam", nn.Flatten(), 48, heads="search", num_layers={"projector": 10**6}))
probe("FW21-dims-kwarg-odd", lambda: create_framework("simsiam", nn.Flatten(), 48, proj_output_dim=-1))
probe("FW22-dims-kwarg-unknown", lambda: create_framework("simsiam", nn.Flatten(), 48, nope=3))
# follow-ups of part 1
g = SearchableHead(16, 8).genotype()
hy = NASHead.from_genotype(g, 16); hy[0][0].weight = nn.Parameter(torch.randn(3, 3))
probe("SP10-save-reshaped", lambda: str(hy.save_pretrained("sp10")))
probe("SP10c-load-it-back", lambda: NASHead.from_pretrained("sp10"))
gd = g.to_dict()
Path("gj5.json").write_text(json.dumps({**gd, "meta": {"x": 0}}).replace('"x": 0', '"x": ' + "9" * 5000))
probe("GJ5b-Genotype.load-5000-digit-int", lambda: Genotype.load("gj5.json"))
Path("gj5w.json").write_text(json.dumps({**gd, "layers": [{**gd["layers"][0], "width": 0}] + gd["layers"][1:]}).replace('"width": 0', '"width": ' + "9" * 5000))
probe("GJ5c-Genotype.load-5000-digit-width", lambda: Genotype.load("gj5w.json"))
probe("GJ5d-from_pretrained-5000-digit-width", lambda: (os.makedirs("gj5d", exist_ok=True), NASHead.from_genotype(g, 16).save_pretrained("gj5d"), Path("gj5d/genotype.json").write_text(Path("gj5w.json").read_text()), NASHead.from_pretrained("gj5d"))[-1])
s = json.dumps({**gd, "meta": {"x": 1}}).replace('"x": 1', '"x": NaN')
probe("GJ9b-from_json-NaN-in-meta", lambda: ("NaN" in s, Genotype.from_json(s).meta))
s2 = json.dumps({**gd, "meta": {"x": 1}}).replace('"x": 1', '"x": 1e999')
probe("GJ9c-from_json-1e999-in-meta", lambda: Genotype.from_json(s2).meta)
# (the rest moved to probe14_lib3.py: the first run's alarm fired inside the handler)
