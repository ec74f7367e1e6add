"""Family 10 of the ninth probe of issue #33 (h35): numpy/torch numbers in the library after
the eighth probe's E7 fix (nasiam._arguments.as_integer / as_bool), and save_pretrained's new
check. Each call prints: id, the exception type and its first 200 characters (or "ok: ...")."""
import json
import math
import os
import tempfile

import numpy as np
import torch

from nasiam import MLPSpace, NASHead, SearchableHead, recalibrate_batchnorm

T = tempfile.mkdtemp(dir=os.environ.get("T"))


def p(pid, fn):
    try:
        r = fn()
        print(pid, "ok:", repr(r)[:200])
    except Exception as e:   # noqa: BLE001 - the probe reports what the API raised
        print(pid, type(e).__name__ + ":", str(e)[:200].replace("\n", "|"))


def layers(h):
    return len(h.layers)


p("M1 in_dim torch.tensor([16]) (one-value tensor, accepted by operator.index)",
  lambda: type(SearchableHead(torch.tensor([16]), 8).in_dim).__name__)
p("M2 genotype of a head built from np.int64 / torch sizes, to JSON",
  lambda: SearchableHead(np.int64(16), torch.tensor(8)).genotype().to_json(indent=None)[:120])
def m3():
    h = NASHead.from_genotype(SearchableHead(np.int64(16), np.int32(8)).genotype(), np.int64(16))
    d = tempfile.mkdtemp(dir=T)
    h.save_pretrained(d)
    return type(NASHead.from_pretrained(d).in_dim).__name__, json.load(open(os.path.join(d, "genotype.json"))).get("format")
p("M3 save_pretrained / from_pretrained of a head made with numpy sizes", m3)
p("M4 in_dim np.uint64(2**63) (out of range)", lambda: SearchableHead(np.uint64(2**63), 8))
p("M5 in_dim 10**30", lambda: SearchableHead(10**30, 8))
p("M6 in_dim np.array(16) (0-d array)", lambda: layers(SearchableHead(np.array(16), 8)))
p("M7 in_dim np.array([16]) (1-d array)", lambda: layers(SearchableHead(np.array([16]), 8)))
p("M8 in_dim torch.tensor(16, dtype=torch.bool)", lambda: SearchableHead(torch.tensor(True), 8))
p("M9 num_layers np.float64(2.0) (a float subclass)", lambda: layers(SearchableHead(16, 8, num_layers=np.float64(2.0))))
p("M10 tau np.float32(0.5)", lambda: SearchableHead(16, 8).set_sampling("gumbel", tau=np.float32(0.5)))
p("M11 tau torch.tensor(0.5)", lambda: SearchableHead(16, 8).set_sampling("gumbel", tau=torch.tensor(0.5)))
p("M12 tau np.float64(0.5)", lambda: SearchableHead(16, 8).set_sampling("gumbel", tau=np.float64(0.5)))
p("M13 MLPSpace widths [np.int64(64), np.int64(128)]", lambda: MLPSpace(widths=[np.int64(64), np.int64(128)]))
p("M14 MLPSpace widths np.array([64, 128])", lambda: MLPSpace(widths=np.array([64, 128])))
p("M15 MLPSpace widths torch.tensor([64, 128])", lambda: MLPSpace(widths=torch.tensor([64, 128])))
p("M16 output_layer np.True_", lambda: layers(SearchableHead(16, 8, output_layer=np.True_)))
p("M17 output_layer torch.tensor(True)", lambda: layers(SearchableHead(16, 8, output_layer=torch.tensor(True))))
def m18():
    h = NASHead.from_genotype(SearchableHead(16, 8).genotype(), 16)
    return recalibrate_batchnorm(h, [torch.randn(4, 16) for _ in range(5)], max_batches=np.int64(2))
p("M18 recalibrate_batchnorm max_batches np.int64(2)", m18)
def m19():
    h = NASHead.from_genotype(SearchableHead(16, 8).genotype(), 16)
    return recalibrate_batchnorm(h, [torch.randn(4, 16, dtype=torch.float64)])
p("M19 recalibrate_batchnorm a float64 batch", m19)
def m20():
    h = NASHead.from_genotype(SearchableHead(16, 8).genotype(), 16)
    return recalibrate_batchnorm(h, [torch.full((4, 16), math.inf)])
p("M20 recalibrate_batchnorm an inf batch", m20)
def m21():
    h = NASHead.from_genotype(SearchableHead(16, 8).genotype(), 16)
    return recalibrate_batchnorm(h, [np.random.randn(4, 16).astype(np.float32)])
p("M21 recalibrate_batchnorm a numpy batch", m21)
def m22():
    h = NASHead.from_genotype(SearchableHead(16, 8).genotype(), 16)
    with torch.no_grad():
        next(h.parameters()).fill_(math.nan)
    d = tempfile.mkdtemp(dir=T)
    h.save_pretrained(d)
    return sorted(os.listdir(d))
p("M22 save_pretrained of a head with a NaN weight (not a statistic)", m22)
def m23():
    h = NASHead.from_genotype(SearchableHead(16, 8).genotype(), 16)
    d = os.path.join(T, "m23")
    open(d, "w").write("a file")
    return h.save_pretrained(d)
p("M23 save_pretrained into a path that is a file", m23)
def m24():
    h = NASHead.from_genotype(SearchableHead(16, 8).genotype(), 16).half()
    d = tempfile.mkdtemp(dir=T)
    h.save_pretrained(d)
    return NASHead.from_pretrained(d).in_dim
p("M24 save_pretrained / from_pretrained of a float16 head", m24)
def m25():
    h = NASHead.from_genotype(SearchableHead(16, 8).genotype(), 16)
    sd = h.state_dict()
    k = [k for k in sd if k.endswith("num_batches_tracked")]
    if k:
        sd[k[0]].fill_(-5)
    d = tempfile.mkdtemp(dir=T)
    h.save_pretrained(d)
    return NASHead.from_pretrained(d).in_dim, k[:1]
p("M25 a negative num_batches_tracked", m25)
p("M26 from_pretrained strict=np.False_", lambda: NASHead.from_pretrained(T + "/nothing", strict=np.False_))
p("M27 from_pretrained strict=1", lambda: NASHead.from_pretrained(T + "/nothing", strict=1))
