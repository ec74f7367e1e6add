"""The seventh probe of issue #33 (h29), family 10: the library API with inputs no earlier probe used.

python probe7_library.py WORKDIR  (under `ulimit -v 8000000`
PYTHONPATH at the code probed).
One line per probe: id, what was called, the outcome (returned / exception type and message)."""
import json
import sys
import traceback
from pathlib import Path

import safetensors
import torch
from safetensors.torch import load_file, save

from nasiam import Genotype, GenotypeError, MLPSpace, NASHead, SearchableHead
from nasiam.head import recalibrate_batchnorm

work = Path(sys.argv[1])
work.mkdir(parents=True, exist_ok=True)
torch.manual_seed(0)


def probe(pid, what, fn):
    try:
        out = fn()
        outcome = f"returned {type(out).__name__}" + (f" {out!r}"[:160] if not isinstance(out, torch.nn.Module) else "")
    except (ValueError, TypeError, GenotypeError, FileNotFoundError, KeyError, RuntimeError, OSError,
            AttributeError, IndexError, RecursionError, MemoryError) as e:
        tb = traceback.extract_tb(e.__traceback__)[-1]
        outcome = f"{type(e).__name__}: {str(e)[:300]!r} (raised at {Path(tb.filename).name}:{tb.lineno})"
    print(f"{pid} | {what} | {outcome}", flush=True)


def head_folder(name):
    """A folder holding the saved head's genotype.json, for weights written next."""
    d = work / name
    d.mkdir(exist_ok=True)
    (d / "genotype.json").write_text((base / "genotype.json").read_text())
    return d


def saved_head(name, **kw):
    head = SearchableHead(16, 8, num_layers=1)
    g = head.genotype().to_dict()
    d = work / name
    NASHead.from_genotype(g, in_dim=16).save_pretrained(d)
    return d


base = saved_head("h0")
gdict = json.loads((base / "genotype.json").read_text())
print("# saved genotype:", json.dumps(gdict)[:400])

# SearchableHead: the output layer's options, not checked by the earlier probes
probe("B1", "SearchableHead(16, 8, output_bias='no')", lambda: SearchableHead(16, 8, output_bias="no").layers[-1])
probe("B2", "SearchableHead(16, 8, output_layer='no')", lambda: len(SearchableHead(16, 8, output_layer="no").layers))
probe("B3", "SearchableHead(16, 8, output_norm='bogus')", lambda: SearchableHead(16, 8, output_norm="bogus"))
probe("B4", "SearchableHead(16, 8, output_activation='gelu\\x1b[2J')",
      lambda: SearchableHead(16, 8, output_activation="gelu\x1b[2J"))
probe("B5", "SearchableHead(16, 8, space='mlp ')", lambda: SearchableHead(16, 8, space="mlp "))
probe("B6", "SearchableHead(16, 8, output_norm=None)", lambda: SearchableHead(16, 8, output_norm=None))
probe("B7", "SearchableHead(16, 8, output_bias=0)", lambda: SearchableHead(16, 8, output_bias=0).genotype().to_dict()["layers"][-1])
# set_sampling: values other than the known tau='1' / decisions=[5, 5]
h = SearchableHead(16, 8, num_layers=1)
probe("B8", "set_sampling('gumbel', tau=0)", lambda: (h.set_sampling("gumbel", tau=0), h(torch.randn(4, 16)).isfinite().all().item()))
probe("B9", "set_sampling('gumbel', tau=float('nan'))", lambda: (h.set_sampling("gumbel", tau=float("nan")), h(torch.randn(4, 16)).isfinite().all().item()))
probe("B10", "set_sampling('gumbel', tau=-1)", lambda: (h.set_sampling("gumbel", tau=-1), h(torch.randn(4, 16)).isfinite().all().item()))
probe("B11", "set_sampling('Gumbel')", lambda: h.set_sampling("Gumbel"))
probe("B12", "set_sampling('softmax', tau=1e-300)", lambda: (h.set_sampling("softmax", tau=1e-300), h(torch.randn(4, 16)).isfinite().all().item()))
h = SearchableHead(16, 8, num_layers=1)
probe("B13", "commit_decisions([])", lambda: h.commit_decisions([]))
probe("B14", "commit_decisions([{'width': 999}])  (a width the space does not have)",
      lambda: (h.commit_decisions([{"width": 999}]), h.genotype().to_dict()["layers"][0]))
probe("B15", "commit_decisions([{'bogus': 1}])", lambda: (SearchableHead(16, 8, num_layers=1).commit_decisions([{"bogus": 1}]), "accepted"))
probe("B16", "commit_decisions('width')  (a string)", lambda: SearchableHead(16, 8, num_layers=1).commit_decisions("width"))
probe("B17", "genotype(meta={'x': object()}) then to_json", lambda: SearchableHead(16, 8, num_layers=1).genotype(meta={"x": object()}).to_json())
probe("B18", "genotype(meta={'x': float('nan')}) then to_json / from_json",
      lambda: Genotype.from_json(SearchableHead(16, 8, num_layers=1).genotype(meta={"x": float("nan")}).to_json()))
probe("B19", "genotype(meta='text')", lambda: SearchableHead(16, 8, num_layers=1).genotype(meta="text"))
probe("B20", "recalibrate_batchnorm(head, [])", lambda: recalibrate_batchnorm(NASHead.from_pretrained(base), []))
probe("B21", "recalibrate_batchnorm(head, None)", lambda: recalibrate_batchnorm(NASHead.from_pretrained(base), None))
# MLPSpace: not widths=5 / norms=[[...]] (known)
probe("M1", "MLPSpace(activations=())", lambda: MLPSpace(activations=()))
probe("M2", "MLPSpace(activations=('relu', 'relu'))", lambda: MLPSpace(activations=("relu", "relu")).activations)
probe("M3", "MLPSpace(norms=('batchnorm', 'BatchNorm'))", lambda: MLPSpace(norms=("batchnorm", "BatchNorm")).norms)
probe("M4", "MLPSpace(widths=range(8, 10))", lambda: MLPSpace(widths=range(8, 10)).widths)
probe("M5", "MLPSpace(widths={16: 'a', 32: 'b'})  (a dict)", lambda: MLPSpace(widths={16: "a", 32: "b"}).widths)
probe("M6", "MLPSpace(widths=(16,), activations=('relu\\x1b]0;t\\x07',))", lambda: MLPSpace(activations=("relu\x1b]0;t\x07",)))
probe("M7", "SearchableHead(16, 8, 1, space=MLPSpace(widths=(2**20,)))  (one huge width: the size bound)",
      lambda: SearchableHead(16, 8, 1, space=MLPSpace(widths=(2**20,))))
# Genotype dictionaries: layer fields not probed before
def layer(**kw):
    d = json.loads(json.dumps(gdict))
    d["layers"][0].update(kw)
    return d
probe("G1", "from_genotype: a layer with an unknown key 'evil'", lambda: NASHead.from_genotype(layer(evil=1), in_dim=16))
probe("G2", "from_genotype: activation 'ReLU'", lambda: NASHead.from_genotype(layer(activation="ReLU"), in_dim=16))
probe("G3", "from_genotype: activation ' relu'", lambda: NASHead.from_genotype(layer(activation=" relu"), in_dim=16))
probe("G4", "from_genotype: activation 'batchnorm' (a norm's name)", lambda: NASHead.from_genotype(layer(activation="batchnorm"), in_dim=16))
probe("G5", "from_genotype: norm 'relu' (an activation's name)", lambda: NASHead.from_genotype(layer(norm="relu"), in_dim=16))
probe("G6", "from_genotype: bias 'false' (a string)", lambda: NASHead.from_genotype(layer(bias="false"), in_dim=16).genotype.to_dict()["layers"][0])
probe("G7", "from_genotype: width 1e3 written as 1000.0", lambda: NASHead.from_genotype(layer(width=1000.0), in_dim=16))
probe("G8", "from_genotype(in_dim=0)", lambda: NASHead.from_genotype(gdict, in_dim=0))
probe("G9", "from_genotype(in_dim=True)", lambda: NASHead.from_genotype(gdict, in_dim=True))
probe("G10", "Genotype.from_dict(genotype with 'meta' a list)", lambda: Genotype.from_dict({**gdict, "meta": [1, 2]}))
probe("G11", "Genotype.from_dict(genotype with an unknown top-level key)", lambda: Genotype.from_dict({**gdict, "evil": {"x": 1}}))
probe("G12", "Genotype.from_dict(layers a dict {'0': layer})", lambda: Genotype.from_dict({**gdict, "layers": {"0": gdict["layers"][0]}}))
probe("G13", "Genotype.load(a folder)", lambda: Genotype.load(work))
big = work / "big.json"
with open(big, "wb") as f:
    f.truncate(3 << 30)   # sparse: 3 GiB of zeros, no disk used
probe("G14", "Genotype.load(a 3 GiB sparse file)", lambda: Genotype.load(big))
probe("G15", "Genotype.load('/dev/zero')", lambda: Genotype.load("/dev/zero"))
probe("G16", "Genotype.from_json(b'\\xef\\xbb\\xbf' + json)  (a UTF-8 BOM)", lambda: Genotype.from_json(b"\xef\xbb\xbf" + json.dumps(gdict).encode()))
probe("G17", "Genotype.from_json('{\"layers\": ' * 0 + 10**5000-digit int)", lambda: Genotype.from_json('{"schema_version": ' + "9" * 5000 + "}"))
probe("G18", "Genotype.from_json(json with a duplicate 'layers' key: the second empty)",
      lambda: Genotype.from_json(json.dumps(gdict)[:-1] + ', "layers": []}'))
# from_pretrained: forms of the path and the files not probed before
probe("P1", "from_pretrained(123)", lambda: NASHead.from_pretrained(123))
probe("P2", "from_pretrained('hf-hub:../../etc')", lambda: NASHead.from_pretrained("hf-hub:../../etc"))
probe("P3", "from_pretrained('hf-hub:user/name', revision='\\x1b[2J')  (no network)",
      lambda: NASHead.from_pretrained("hf-hub:user/name", revision="\x1b[2J"))
probe("P4", "from_pretrained(base, subfolder='../h0')", lambda: NASHead.from_pretrained(base, subfolder="../h0"))
probe("P5", "from_pretrained(base/genotype.json)  (the file, not the folder)", lambda: NASHead.from_pretrained(base / "genotype.json"))
# weights in float16 and bfloat16, and a weights file whose record names another in_dim

st = load_file(base / "head.safetensors")
meta = safetensors.safe_open(base / "head.safetensors", "pt").metadata()
for pid, dt in (("P6", torch.float16), ("P7", torch.bfloat16), ("P8", torch.float64)):
    d = work / f"h{pid}"
    d.mkdir(exist_ok=True)
    (d / "genotype.json").write_text((base / "genotype.json").read_text())
    (d / "head.safetensors").write_bytes(save({k: v.to(dt) if v.is_floating_point() else v for k, v in st.items()}, metadata=meta))
    probe(pid, f"from_pretrained: weights stored as {dt}", lambda d=d: NASHead.from_pretrained(d))
d = work / "hP9"
d.mkdir(exist_ok=True)
(d / "genotype.json").write_text((base / "genotype.json").read_text())
(d / "head.safetensors").write_bytes(save({k: v.half() if v.is_floating_point() else v for k, v in st.items()},
                                          metadata={**meta, "format": "something.else"}))
probe("P9", "from_pretrained: metadata format 'something.else'", lambda: NASHead.from_pretrained(d))
d = work / "hP10"
d.mkdir(exist_ok=True)
(d / "genotype.json").write_text((base / "genotype.json").read_text())
big = {k: (v * 1e5 if v.is_floating_point() else v) for k, v in st.items()}
(d / "head.safetensors").write_bytes(save(big, metadata=meta))
probe("P10", "from_pretrained: weights x 1e5 (finite), then forward in float16-castable range",
      lambda: NASHead.from_pretrained(d)(torch.randn(4, 16)).abs().max().item())
d = work / "hP11"
d.mkdir(exist_ok=True)
(d / "genotype.json").write_text((base / "genotype.json").read_text())
(d / "head.safetensors").write_bytes(save({k: v for k, v in st.items() if "running" not in k}, metadata=meta))
probe("P11", "from_pretrained: BatchNorm running statistics missing from the weights", lambda: NASHead.from_pretrained(d))
d = work / "hP12"
d.mkdir(exist_ok=True)
(d / "genotype.json").write_text((base / "genotype.json").read_text())
(d / "head.safetensors").write_bytes(save({k: (torch.full_like(v, -1.0) if "running_var" in k else v) for k, v in st.items()},
                                          metadata=meta))
probe("P12", "from_pretrained: running_var all -1 (a variance below zero)",
      lambda: NASHead.from_pretrained(d).eval()(torch.randn(4, 16)).isfinite().all().item())
probe("S1", "save_pretrained into a path that is a file", lambda: NASHead.from_pretrained(base).save_pretrained(big and (work / "big.json")))
print("keys of the saved state:", sorted(st)[:12])
# added after the first pass: null fields in a genotype file (B6's AttributeError in files?)
probe("G19", "from_genotype: norm null", lambda: NASHead.from_genotype(layer(norm=None), in_dim=16))
probe("G20", "from_genotype: activation null", lambda: NASHead.from_genotype(layer(activation=None), in_dim=16))
probe("G21", "from_genotype: op null", lambda: NASHead.from_genotype(layer(op=None), in_dim=16))
probe("G22", "from_genotype: norm 5", lambda: NASHead.from_genotype(layer(norm=5), in_dim=16))
probe("B22", "SearchableHead(16, 8, output_activation=['relu'])", lambda: SearchableHead(16, 8, output_activation=["relu"]))
