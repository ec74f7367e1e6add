"""Probe 12 (h43): the Python API with odd arguments (family 10): SearchableHead's bounds, from_genotype,
Genotype JSON, from_pretrained, set_sampling, the plain and lightly adapters, create_framework.
Each call prints what it returned or raised; a raw exception type (not ValueError/TypeError/GenotypeError
with nasiam's words) is marked CHECK. usage: python probe12_library.py TMPDIR"""
import json
import os
import sys
import time

import torch
from torch import nn

from nasiam import Genotype, NASHead, SearchableHead

T = os.path.join(sys.argv[1], "lib")
os.makedirs(T, exist_ok=True)
torch.manual_seed(0)


def call(pid, fn):
    t = time.time()
    try:
        r = fn()
        got = f"returned {type(r).__name__}"
    except Exception as e:   # noqa: BLE001
        got = f"{type(e).__module__}.{type(e).__name__}: {' '.join(str(e).split())[:230]}"
    print(f"{pid} ({time.time() - t:.2f}s): {got}", flush=True)


g = SearchableHead(16, 8).genotype()
call("A1 SearchableHead(16, 8, num_layers=10**6)", lambda: SearchableHead(16, 8, num_layers=10 ** 6))
call("A2 SearchableHead(65536, 65536, num_layers=64)", lambda: SearchableHead(65536, 65536, num_layers=64))
call("A3 SearchableHead(16, 8, num_layers=0)", lambda: SearchableHead(16, 8, num_layers=0))
call("A4 SearchableHead(16, 8, num_layers=True)", lambda: SearchableHead(16, 8, num_layers=True))
call("A5 SearchableHead(16.0, 8)", lambda: SearchableHead(16.0, 8))
call("A6 SearchableHead(torch.tensor(16), 8)", lambda: SearchableHead(torch.tensor(16), 8))
call("A7 SearchableHead(16, 8, hidden_dim=2**20)", lambda: SearchableHead(16, 8, hidden_dim=2 ** 20))
call("A8 SearchableHead(16, 8, widths=[])", lambda: SearchableHead(16, 8, widths=[]))
h = SearchableHead(16, 8)
for pid, args in (("A9 set_sampling('gumbel', tau=0)", ("gumbel", 0)), ("A10 set_sampling('gumbel', tau=nan)", ("gumbel", float("nan"))),
                  ("A11 set_sampling('gumbel', tau=-1)", ("gumbel", -1)), ("A12 set_sampling('nope')", ("nope", 1.0))):
    call(pid, lambda a=args: h.set_sampling(a[0], tau=a[1]))
call("A13 SearchableHead forward with an int64 batch", lambda: SearchableHead(16, 8)(torch.ones(4, 16, dtype=torch.int64)))
call("A14 NASHead forward with an int64 batch", lambda: NASHead.from_genotype(g, 16)(torch.ones(4, 16, dtype=torch.int64)))
for pid, v in (("B1 in_dim=-5", -5), ("B2 in_dim=3.5", 3.5), ("B3 in_dim='8'", "8"), ("B4 in_dim=True", True), ("B5 in_dim=2**40", 2 ** 40)):
    call(f"{pid} NASHead.from_genotype", lambda v=v: NASHead.from_genotype(g, v))
j = json.loads(g.to_json()) if hasattr(g, "to_json") else None
print("   genotype json keys:", sorted(j) if isinstance(j, dict) else type(j))
for pid, edit in (("C1 schema_version 99", lambda d: d.__setitem__("schema_version", 99)),
                  ("C2 an unknown key", lambda d: d.__setitem__("evil", 1)),
                  ("C3 a layer's activation 'rm -rf'", lambda d: d["layers"][0].__setitem__("activation", "rm -rf")),
                  ("C4 a layer's width 2**31", lambda d: d["layers"][0].__setitem__("width", 2 ** 31)),
                  ("C5 10,000 layers", lambda d: d.__setitem__("layers", d["layers"] * 10000)),
                  ("C6 layers null", lambda d: d.__setitem__("layers", None))):
    if j is None:
        break
    d = json.loads(json.dumps(j))
    edit(d)
    call(f"{pid} Genotype.from_json", lambda d=d: Genotype.from_json(json.dumps(d)))
# from_pretrained: an edited genotype.json with the same shapes (issue #33 item 10)
head = NASHead.from_genotype(g, 16)
folder = os.path.join(T, "h1")
head.save_pretrained(folder)
gj = os.path.join(folder, "genotype.json")
text = open(gj).read()
acts = [a for a in ("relu", "gelu", "silu", "tanh", "identity") if f'"{a}"' in text]
print("   saved files:", sorted(os.listdir(folder)), "activations in genotype.json:", acts)
if acts:
    other = "gelu" if acts[0] != "gelu" else "relu"
    open(gj, "w").write(text.replace(f'"{acts[0]}"', f'"{other}"', 1))
    call("D1 from_pretrained with genotype.json's activation edited (same shapes)", lambda: NASHead.from_pretrained(folder))
open(gj, "w").write(text)
call("D2 from_pretrained of the saved folder (baseline)", lambda: NASHead.from_pretrained(folder))
os.symlink("/dev/zero", os.path.join(T, "zero.safetensors")) if not os.path.lexists(os.path.join(T, "zero.safetensors")) else None
call("D3 from_pretrained of a folder name holding ESC", lambda: NASHead.from_pretrained(os.path.join(T, "no\x1b[2Jpe")))
call("D4 from_pretrained('hf-user/repo') with no network", lambda: NASHead.from_pretrained("nasiam-none/none-such"))
call("D5 save_pretrained into the same folder again", lambda: head.save_pretrained(folder))
# the plain and lightly adapters
from nasiam.integrations.plain import swap_head  # noqa: E402

model = nn.Sequential(nn.Linear(16, 16), nn.Sequential(nn.Linear(16, 8)))
call("E1 swap_head at path '1'", lambda: swap_head(model, "1", NASHead.from_genotype(g, 16)))
call("E2 swap_head at path '__class__'", lambda: swap_head(model, "__class__", NASHead.from_genotype(g, 16)))
call("E3 swap_head at path '1.0.weight'", lambda: swap_head(model, "1.0.weight", NASHead.from_genotype(g, 16)))
call("E4 swap_head at path ''", lambda: swap_head(model, "", NASHead.from_genotype(g, 16)))
call("E5 swap_head at path '9'", lambda: swap_head(model, "9", NASHead.from_genotype(g, 16)))
try:
    from nasiam.integrations.lightly import load_head_sources, replace_heads
    call("F1 lightly load_head_sources of a missing folder", lambda: load_head_sources(os.path.join(T, "missing")))
    call("F2 lightly load_head_sources of the saved head folder (one head, no slots)", lambda: load_head_sources(folder))
    call("F3 lightly replace_heads on a plain Linear", lambda: replace_heads(nn.Linear(4, 4), folder))
    call("F4 lightly load_head_sources({'projector': 5})", lambda: load_head_sources({"projector": 5}))
except ImportError as e:
    print("lightly adapter not importable:", e)
from nasiam.frameworks import create_framework  # noqa: E402

call("G1 create_framework('nope', ...)", lambda: create_framework("nope", nn.Identity(), 16))
call("G2 create_framework('simsiam', feature_dim=0)", lambda: create_framework("simsiam", nn.Identity(), 0))
call("G3 create_framework('simsiam', feature_dim=-1)", lambda: create_framework("simsiam", nn.Identity(), -1))
call("G4 create_framework('simsiam', feature_dim=2**20)", lambda: create_framework("simsiam", nn.Identity(), 2 ** 20))
call("G5 create_framework('simsiam', 16, projector='nope')", lambda: create_framework("simsiam", nn.Identity(), 16, projector="nope"))
