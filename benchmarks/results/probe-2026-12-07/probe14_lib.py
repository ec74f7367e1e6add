# ruff: noqa: E401, E402, E701, E702, E731  (probe scripts: short setups on one line; imports beside the probes that use them)
"""Fourteenth probe of #33 (h49): the Python API a researcher calls. Usage: python probe14_lib.py WORKDIR"""
import json
import os
import struct
import sys
import time
from pathlib import Path

import torch
from torch import nn

W = Path(sys.argv[1]); W.mkdir(exist_ok=True); os.chdir(W)


def probe(pid, fn):
    t = time.perf_counter()
    try:
        out = fn(); print(f"{pid}: OK {out!r}"[:600], f"({time.perf_counter()-t:.2f}s)")
    except BaseException as e:
        print(f"{pid}: {type(e).__name__}: {str(e)[:500]!r}", f"({time.perf_counter()-t:.2f}s)")


from nasiam import Genotype, MLPSpace, NASHead, NASiamSpace, SearchableHead

torch.manual_seed(0)
g = SearchableHead(16, 8).genotype()
h = NASHead.from_genotype(g, 16)
h.save_pretrained("base")
# --- save_pretrained / from_pretrained with hostile folders
probe("SP1-unicode-folder", lambda: (h.save_pretrained("héad\u202eevil/ü"), type(NASHead.from_pretrained("héad\u202eevil/ü")).__name__)[1])
os.makedirs("sp2/genotype.json"); probe("SP2-genotype.json-is-a-folder", lambda: h.save_pretrained("sp2"))
os.makedirs("sp3/head.safetensors"); probe("SP3-weights-is-a-folder", lambda: h.save_pretrained("sp3"))
probe("SP3b-after-SP3-folder-listing", lambda: sorted(os.listdir("sp3")))
os.makedirs("sp4"); os.symlink("/etc/passwd", "sp4/genotype.json")
probe("SP4-genotype.json-link-to-/etc/passwd-save", lambda: (h.save_pretrained("sp4"), os.path.islink("sp4/genotype.json"), open("/etc/passwd").read(4))[1:])
os.makedirs("sp5"); os.mkfifo("sp5/head.safetensors")
probe("SP5-weights-a-FIFO-save", lambda: (h.save_pretrained("sp5"), sorted(os.listdir("sp5")))[1])
h16 = NASHead.from_genotype(g, 16).half()
probe("SP6-half-head-save-load", lambda: (h16.save_pretrained("sp6"), next(NASHead.from_pretrained("sp6").parameters()).dtype)[1])
hb = NASHead.from_genotype(g, 16).to(torch.bfloat16)
probe("SP7-bf16-head-save-load", lambda: (hb.save_pretrained("sp7"), next(NASHead.from_pretrained("sp7").parameters()).dtype)[1])
hm = NASHead.from_genotype(g, 16).to("meta")
probe("SP8-meta-head-save", lambda: hm.save_pretrained("sp8"))
probe("SP8b-listing", lambda: sorted(os.listdir("sp8")) if os.path.isdir("sp8") else None)
# a head whose genotype attribute was replaced by the user
hx = NASHead.from_genotype(g, 16); hx.genotype = "not a genotype"
probe("SP9-genotype-attr-str-save", lambda: hx.save_pretrained("sp9"))
hy = NASHead.from_genotype(g, 16); hy[0][0].weight.data = torch.randn(3, 3)
probe("SP10-weight-reshaped-save", lambda: hy.save_pretrained("sp10"))
probe("SP10b-listing", lambda: sorted(os.listdir("sp10")) if os.path.isdir("sp10") else None)
# from_pretrained: hostile files
import shutil

from safetensors.torch import load_file, save_file


def mk(name):
    shutil.copytree("base", name); return Path(name)
p = mk("fp1"); (p / "head.safetensors").write_bytes(struct.pack("<Q", 2**40) + b"{}")
probe("FP1-header-len-2^40", lambda: NASHead.from_pretrained("fp1"))
p = mk("fp2"); (p / "head.safetensors").write_bytes(struct.pack("<Q", 60_000_000) + b"{" + b" " * 59_999_998 + b"}")
probe("FP2-60MB-header", lambda: NASHead.from_pretrained("fp2"))
p = mk("fp3"); st = load_file("base/head.safetensors"); save_file({k: v.double() for k, v in st.items()}, p / "head.safetensors", metadata={"format": "nasiam.head"})
probe("FP3-float64-weights", lambda: next(NASHead.from_pretrained("fp3").parameters()).dtype)
p = mk("fp4"); save_file({**st, "extra.weight": torch.ones(2)}, p / "head.safetensors")
probe("FP4-extra-tensor-strict", lambda: NASHead.from_pretrained("fp4"))
probe("FP4b-extra-tensor-strict-False", lambda: type(NASHead.from_pretrained("fp4", strict=False)).__name__)
p = mk("fp5"); save_file({k: v for k, v in list(st.items())[:1]}, p / "head.safetensors")
probe("FP5-missing-tensors-strict-False", lambda: [float(x.abs().sum()) for x in NASHead.from_pretrained("fp5", strict=False).state_dict().values()][:4])
p = mk("fp6"); save_file(st, p / "head.safetensors", metadata={"format": "nasiam.head", "in_dim": "999", "genotype": "{not json"})
probe("FP6-metadata-genotype-not-json", lambda: NASHead.from_pretrained("fp6"))
p = mk("fp7"); save_file(st, p / "head.safetensors", metadata={"format": "nasiam.head", "in_dim": "999"})
probe("FP7-metadata-in_dim-999-no-genotype", lambda: NASHead.from_pretrained("fp7").in_dim)
p = mk("fp8"); save_file({k: (v.to(torch.float8_e4m3fn) if v.is_floating_point() else v) for k, v in st.items()}, p / "head.safetensors")
probe("FP8-float8-weights", lambda: next(NASHead.from_pretrained("fp8").parameters()).dtype)
p = mk("fp9"); save_file({k: (v.to(torch.complex64) if v.is_floating_point() else v) for k, v in st.items()}, p / "head.safetensors")
probe("FP9-complex-weights", lambda: NASHead.from_pretrained("fp9"))
p = mk("fp10"); d = json.loads((p / "genotype.json").read_text()); (p / "genotype.json").write_text("\ufeff" + json.dumps(d))
probe("FP10-genotype-BOM", lambda: NASHead.from_pretrained("fp10").in_dim)
p = mk("fp11"); (p / "genotype.json").write_bytes(json.dumps(d).encode("utf-16"))
probe("FP11-genotype-UTF16", lambda: NASHead.from_pretrained("fp11"))
p = mk("fp12"); (p / "genotype.json").write_text(json.dumps(d)[:-1] + ', "layers": []}')
probe("FP12-genotype-duplicate-key-layers", lambda: NASHead.from_pretrained("fp12"))
p = mk("fp13"); (p / "genotype.json").write_text("[" * 500000 + "]" * 500000)
probe("FP13-genotype-nesting-500k", lambda: NASHead.from_pretrained("fp13"))
p = mk("fp14"); os.remove(p / "head.safetensors"); os.symlink("/dev/zero", p / "head.safetensors")
probe("FP14-weights-link-/dev/zero", lambda: NASHead.from_pretrained("fp14"))
p = mk("fp15"); os.remove(p / "genotype.json"); os.mkfifo(p / "genotype.json")
probe("FP15-genotype-FIFO", lambda: NASHead.from_pretrained("fp15"))
p = mk("fp16"); open(p / "head.safetensors", "ab").write(b"\x00" * 100)
probe("FP16-trailing-garbage", lambda: NASHead.from_pretrained("fp16"))
p = mk("fp17"); save_file({k: v.to_sparse() if False else v.t().contiguous() if v.dim() == 2 and v.shape[0] != v.shape[1] else v for k, v in st.items()}, p / "head.safetensors")
probe("FP17-transposed-weights", lambda: NASHead.from_pretrained("fp17"))
probe("FP18-map_location-cuda:0-nocuda", lambda: NASHead.from_pretrained("base", map_location="cuda:0"))
probe("FP19-map_location-mps", lambda: NASHead.from_pretrained("base", map_location="mps"))
probe("FP20-subfolder-..", lambda: NASHead.from_pretrained("fp1", subfolder="../base").in_dim)
probe("FP21-subfolder-abs", lambda: NASHead.from_pretrained("nowhere", subfolder=os.path.abspath("base")).in_dim)
probe("FP22-bytes-path", lambda: NASHead.from_pretrained(b"base"))
probe("FP23-hf-hub-offline", lambda: (os.environ.__setitem__("HF_HUB_OFFLINE", "1"), NASHead.from_pretrained("hf-hub:user/né"))[1])
probe("FP24-hf-hub-@@", lambda: NASHead.from_pretrained("hf-hub:user/name@"))
probe("FP25-hf-hub-subfolder-glob", lambda: NASHead.from_pretrained("hf-hub:user/name", subfolder="*"))
# --- NASHead forward / usage with odd inputs
probe("NF1-int64-input", lambda: h(torch.ones(4, 16, dtype=torch.long)))
probe("NF2-float64-input", lambda: h(torch.ones(4, 16, dtype=torch.float64)))
probe("NF3-batch-1-train", lambda: h.train()(torch.ones(1, 16)).shape)
probe("NF4-batch-0", lambda: h.train()(torch.ones(0, 16)).shape)
probe("NF5-3d-input", lambda: h(torch.ones(4, 2, 16)))
probe("NF6-nan-input-eval", lambda: bool(torch.isnan(h.eval()(torch.full((4, 16), float('nan')))).all()))
probe("NF7-resized-0", lambda: h.resized(out_dim=0))
probe("NF8-resized-bool", lambda: h.resized(in_dim=True).in_dim)
probe("NF9-resized-huge", lambda: h.resized(in_dim=65536, out_dim=65536))
probe("NF10-deepcopy-pickle", lambda: type(__import__("copy").deepcopy(h)).__name__)
probe("NF11-torch.jit.script", lambda: type(torch.jit.script(NASHead.from_genotype(g, 16))).__name__)
probe("NF12-state_dict-roundtrip-other-geno", lambda: NASHead.from_genotype(SearchableHead(16, 8, num_layers=0).genotype(), 16).load_state_dict(h.state_dict()))
# --- Genotype from users
gd = g.to_dict()
probe("GJ1-from_dict-layers-tuple", lambda: Genotype.from_dict({**gd, "layers": tuple(gd["layers"])}).out_dim)
probe("GJ2-from_dict-width-float-8.0", lambda: Genotype.from_dict({**gd, "layers": [{**gd["layers"][0], "width": 8.0}] + gd["layers"][1:]}))
probe("GJ3-from_dict-width-numpy", lambda: Genotype.from_dict({**gd, "layers": [{**gd["layers"][0], "width": __import__("numpy").int64(8)}] + gd["layers"][1:]}).out_dim)
probe("GJ4-meta-cycle", lambda: (lambda m: (m.__setitem__("self", m), Genotype.from_dict({**gd, "meta": m}))[1])({}))
probe("GJ5-meta-huge-int", lambda: Genotype.from_dict({**gd, "meta": {"x": 10**5000}}).to_json()[:50])
probe("GJ6-meta-nan-float", lambda: Genotype.from_dict({**gd, "meta": {"x": float("nan")}}).to_json()[:80])
probe("GJ7-meta-tensor", lambda: Genotype.from_dict({**gd, "meta": {"x": torch.ones(2)}}))
probe("GJ8-meta-key-int", lambda: Genotype.from_dict({**gd, "meta": {1: 2}}).to_json()[:80])
probe("GJ9-from_json-NaN", lambda: Genotype.from_json(json.dumps(gd).replace('"meta": {', '"meta": {"x": NaN, ')))
probe("GJ10-from_json-bytes-latin1", lambda: Genotype.from_json(json.dumps(gd).encode("latin-1") + b" \xe9"))
probe("GJ11-from_json-surrogate", lambda: Genotype.from_json(json.dumps({**gd, "meta": {"x": "\ud800"}})).to_json()[:60])
probe("GJ12-save-surrogate-meta", lambda: Genotype.from_dict({**gd, "meta": {"x": "\ud800"}}).save("gj12.json"))
probe("GJ12b-listing", lambda: sorted(x for x in os.listdir(".") if x.startswith(".gj12") or x.startswith("gj12")))
probe("GJ13-load-dir", lambda: Genotype.load("."))
probe("GJ14-load-run-level-genotype", lambda: Genotype.load("base/genotype.json").out_dim)
from nasiam.rundir import write_search_genotypes

write_search_genotypes(Path("rl.json"), "simsiam", {"projector": g, "predictor": g})
probe("GJ15-Genotype.load-run-level-file", lambda: Genotype.load("rl.json"))
probe("GJ16-from_genotype-run-level-file", lambda: NASHead.from_genotype("rl.json", 16))
probe("GJ17-from_genotype-Path-missing", lambda: NASHead.from_genotype(Path("nope\x1b[2J.json"), 16))
# --- SearchableHead / spaces with odd args
probe("SH1-space-unknown-name", lambda: SearchableHead(16, 8, space="nope\x1b[2J"))
probe("SH2-MLPSpace-widths-empty", lambda: MLPSpace(widths=()))
probe("SH3-MLPSpace-widths-dup", lambda: SearchableHead(16, 8, space=MLPSpace(widths=(8, 8))).genotype().describe())
probe("SH4-MLPSpace-widths-str", lambda: MLPSpace(widths="128"))
probe("SH5-MLPSpace-widths-gen", lambda: MLPSpace(widths=(w for w in (8, 16))).widths)
probe("SH6-MLPSpace-acts-dup", lambda: SearchableHead(16, 8, space=MLPSpace(activations=("relu", "relu"))).genotype().describe())
probe("SH7-MLPSpace-norms-empty", lambda: MLPSpace(norms=()))
probe("SH8-MLPSpace-one-choice-everywhere", lambda: (lambda s: (s.genotype().describe(), len(list(s.arch_parameters()))))(SearchableHead(16, 8, space=MLPSpace(widths=(8,), norms=("none",), activations=("relu",), allow_skip=False))))
probe("SH8b-one-choice-train-step", lambda: (lambda s: s(torch.randn(4, 16)).sum().backward())(SearchableHead(16, 8, space=MLPSpace(widths=(8,), norms=("none",), activations=("relu",), allow_skip=False))))
probe("SH9-NASiamSpace-args", lambda: NASiamSpace(widths=(0,)))
probe("SH10-NASiamSpace-out_dim-mismatch", lambda: SearchableHead(16, 8, space="nasiam", output_layer=False).genotype().describe())
probe("SH11-nasiam-space-output_layer-True", lambda: SearchableHead(16, 8, space="nasiam").genotype().out_dim)
probe("SH12-forward-int64", lambda: SearchableHead(16, 8)(torch.ones(4, 16, dtype=torch.long)))
probe("SH13-forward-wrong-width", lambda: SearchableHead(16, 8)(torch.ones(4, 15)))
probe("SH14-forward-3d", lambda: SearchableHead(16, 8)(torch.ones(4, 2, 16)).shape)
probe("SH15-forward-batch-1-train", lambda: SearchableHead(16, 8).train()(torch.ones(1, 16)).shape)
probe("SH16-genotype-top_k-0", lambda: SearchableHead(16, 8).genotype(top_k=0))
probe("SH17-top_genotypes-10**9", lambda: len(SearchableHead(16, 8).top_genotypes(10**9)))
probe("SH18-top_genotypes-0", lambda: SearchableHead(16, 8).top_genotypes(0))
probe("SH19-commit_decisions-bad", lambda: SearchableHead(16, 8).commit_decisions([{"width": 7}]))
probe("SH20-commit_decisions-nan-margin", lambda: SearchableHead(16, 8).commit_decisions([{}, {}], margin=float("nan")))
probe("SH21-export-foreign-genotype", lambda: SearchableHead(16, 8).export(SearchableHead(32, 8).genotype()))
probe("SH22-export-other-space-genotype", lambda: SearchableHead(16, 8).export(SearchableHead(16, 8, space="nasiam", output_layer=False).genotype()).describe() if False else SearchableHead(16, 8).export(SearchableHead(16, 8, space="nasiam", output_layer=False).genotype()))
probe("SH23-random_canonical_genotype-not-Random", lambda: SearchableHead(16, 8).random_canonical_genotype(0))
probe("SH24-load_state_dict-other-space", lambda: SearchableHead(16, 8).load_state_dict(SearchableHead(16, 8, space="nasiam", output_layer=False).state_dict()))
probe("SH25-half-forward", lambda: SearchableHead(16, 8).half()(torch.ones(4, 16, dtype=torch.half)).dtype)
probe("SH26-output_norm-unicode", lambda: SearchableHead(16, 8, output_norm="bätchnorm"))
probe("SH27-probabilities-after-nan-logits", lambda: (lambda s: (next(s.arch_parameters()).data.fill_(float("nan")), s.genotype().describe())[1])(SearchableHead(16, 8)))
probe("SH28-inf-logits-genotype", lambda: (lambda s: ([p.data.fill_(float("inf")) for p in s.arch_parameters()], s.genotype().describe())[1])(SearchableHead(16, 8)))
probe("SH29-set_sampling-gumbel-tau-1e-30", lambda: (lambda s: (s.set_sampling("gumbel", 1e-30), bool(torch.isfinite(s(torch.randn(4, 16))).all()))[1])(SearchableHead(16, 8)))
# --- registries
from nasiam.space import list_activations, register_activation

probe("RG1-register-activation-existing-relu", lambda: register_activation("relu", nn.Tanh))
probe("RG2-register-activation-name-escape", lambda: register_activation("x\x1b[2J", nn.Tanh))
probe("RG3-register-activation-not-module", lambda: register_activation("lam", lambda: 5))
probe("RG3b-use-lam", lambda: SearchableHead(16, 8, space=MLPSpace(activations=("lam",)))(torch.randn(4, 16)) if "lam" in list_activations() else "not registered")
# --- frameworks' forward
from nasiam.frameworks import create_framework

bb = nn.Sequential(nn.Flatten(), nn.Linear(48, 32))
for fw in ("simsiam", "simclr", "moco"):
    m = create_framework(fw, bb, 32) if fw != "moco" else None
    if m is None:
        try: m = create_framework(fw, nn.Sequential(nn.Flatten(), nn.Linear(48, 32)), 32)
        except BaseException as e: print(fw, "create", type(e).__name__, e); continue
    x = torch.randn(4, 3, 4, 4)
    probe(f"FW1-{fw}-ok", lambda m=m: type(m(x, x)).__name__)
    probe(f"FW2-{fw}-views-diff-batch", lambda m=m: m(x, torch.randn(3, 3, 4, 4)))
    probe(f"FW3-{fw}-int-images", lambda m=m: m(x.long(), x.long()))
    probe(f"FW4-{fw}-uint8-images", lambda m=m: m((x * 100).to(torch.uint8), (x * 100).to(torch.uint8)))
    probe(f"FW5-{fw}-float64", lambda m=m: m(x.double(), x.double()))
    probe(f"FW6-{fw}-batch-1", lambda m=m: m(x[:1], x[:1]))
    probe(f"FW7-{fw}-wrong-hw", lambda m=m: m(torch.randn(4, 3, 5, 5), torch.randn(4, 3, 5, 5)))
    probe(f"FW8-{fw}-nan", lambda m=m: (lambda o: [float(v) for v in (o.values() if isinstance(o, dict) else [o.loss if hasattr(o, 'loss') else o])][:2])(m(torch.full_like(x, float('nan')), x)))
    probe(f"FW9-{fw}-meta-device", lambda m=m: m(x.to("meta"), x.to("meta")))
    probe(f"FW10-{fw}-one-arg", lambda m=m: m(x))
    probe(f"FW11-{fw}-list-of-3-views", lambda m=m: m([x, x, x]))
probe("FW12-create-backbone-None", lambda: create_framework("simsiam", None, 32))
probe("FW13-create-feature_dim-bool", lambda: create_framework("simsiam", bb, True))
probe("FW14-create-feature_dim-wrong", lambda: create_framework("simsiam", bb, 64)(torch.randn(4, 3, 4, 4), torch.randn(4, 3, 4, 4)))
probe("FW15-create-name-unicode", lambda: create_framework("sïmsiam", bb, 32))
probe("FW16-create-backbone-not-module", lambda: create_framework("simsiam", lambda x: x, 32))
