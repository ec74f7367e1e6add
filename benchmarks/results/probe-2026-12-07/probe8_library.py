"""Family 10 of the eighth probe of issue #33 (h32): the library API with inputs the earlier
probes did not try, especially this morning's argument checkers (nasiam._arguments).
Each call prints: id, the exception type and its first 200 characters (or "ok: ...")."""
import math
import os
import sys
import tempfile
import traceback

import numpy as np
import torch

from nasiam import Genotype, GenotypeError, MLPSpace, NASHead, SearchableHead, recalibrate_batchnorm

T = tempfile.mkdtemp(dir=os.environ.get("T"))


def p(pid, fn):
    try:
        r = fn()
        print(f"{pid} ok: {str(r)[:200]!r}")
    except (ValueError, TypeError, GenotypeError) as e:
        print(f"{pid} {type(e).__name__}: {str(e)[:200]!r}")
    except BaseException as e:   # anything else is raw
        print(f"{pid} RAW {type(e).__name__}: {str(e)[:200]!r}")
        traceback.print_exc(limit=2, file=sys.stdout)


head = SearchableHead(16, 8)
g = head.genotype()
p("L1 numpy int in_dim", lambda: SearchableHead(np.int64(16), 8).in_dim)
p("L2 numpy widths list", lambda: MLPSpace(widths=list(np.array([8, 16]))).widths)
p("L3 numpy array widths", lambda: MLPSpace(widths=np.array([8, 16])).widths)
p("L4 torch int in_dim", lambda: SearchableHead(torch.tensor(16), 8))
p("L5 from_genotype in_dim numpy", lambda: NASHead.from_genotype(g, in_dim=np.int64(16)).in_dim)
p("L6 num_layers float 2.0", lambda: SearchableHead(16, 8, num_layers=2.0))
p("L7 output_bias numpy bool", lambda: SearchableHead(16, 8, output_bias=np.bool_(False)))
p("L8 output_norm ' batchnorm'", lambda: SearchableHead(16, 8, output_norm=" batchnorm"))
p("L9 output_activation bytes", lambda: SearchableHead(16, 8, output_activation=b"relu"))
p("L10 space=MLPSpace class (not instance)", lambda: SearchableHead(16, 8, space=MLPSpace))
p("L11 recalibrate max_batches=True", lambda: recalibrate_batchnorm(NASHead.from_genotype(g, 16), [torch.randn(4, 16)], max_batches=True))
p("L12 recalibrate max_batches=0", lambda: recalibrate_batchnorm(NASHead.from_genotype(g, 16), [torch.randn(4, 16)], max_batches=0))
p("L13 recalibrate batches of a 3-D tensor", lambda: recalibrate_batchnorm(NASHead.from_genotype(g, 16), [torch.randn(4, 2, 16)]))
p("L14 recalibrate a generator of ints", lambda: recalibrate_batchnorm(NASHead.from_genotype(g, 16), (i for i in range(3))))
p("L15 recalibrate batch of 1 (BatchNorm train mode)", lambda: recalibrate_batchnorm(NASHead.from_genotype(g, 16), [torch.randn(1, 16)]))
p("L16 recalibrate NaN batch", lambda: recalibrate_batchnorm(NASHead.from_genotype(g, 16), [torch.full((4, 16), math.nan)]))
p("L17 genotype meta with a tensor", lambda: head.genotype(meta={"t": torch.ones(2)}).to_dict())
p("L18 genotype meta with NaN", lambda: Genotype.from_dict(head.genotype(meta={"x": math.nan}).to_dict()))
p("L19 genotype meta nested 10^4 deep", lambda: head.genotype(meta=__import__("functools").reduce(lambda a, _: {"a": a}, range(10000), {})))
# save, then damage the saved files in new ways
d = os.path.join(T, "h")
NASHead.from_genotype(g, 16).save_pretrained(d)
p("L20 from_pretrained of a pathlib.Path", lambda: NASHead.from_pretrained(__import__("pathlib").Path(d)).in_dim)
p("L21 from_pretrained of bytes path", lambda: NASHead.from_pretrained(d.encode()))
p("L22 from_pretrained map_location='meta'", lambda: NASHead.from_pretrained(d, map_location="meta"))
p("L23 from_pretrained map_location='cuda:7'", lambda: NASHead.from_pretrained(d, map_location="cuda:7"))
p("L24 from_pretrained strict='no'", lambda: NASHead.from_pretrained(d, strict="no"))
p("L25 from_pretrained subfolder=''", lambda: NASHead.from_pretrained(d, subfolder=""))
p("L26 from_pretrained subfolder with NUL", lambda: NASHead.from_pretrained(d, subfolder="a\x00b"))
p("L27 from_pretrained a path with NUL", lambda: NASHead.from_pretrained(d + "\x00x"))
p("L28 from_pretrained a 5000-byte path", lambda: NASHead.from_pretrained("x" * 5000))
p("L29 from_genotype of a path with NUL", lambda: NASHead.from_genotype(d + "/genotype.json\x00"))
p("L30 Genotype.load of a folder", lambda: Genotype.load(d))
p("L31 Genotype.load of a FIFO", lambda: (os.mkfifo(os.path.join(T, "fifo")), Genotype.load(os.path.join(T, "fifo"))))
p("L32 MLPSpace widths a set", lambda: MLPSpace(widths={8, 16}))
p("L33 MLPSpace widths 10^5 items", lambda: len(MLPSpace(widths=list(range(1, 100001))).widths))
p("L34 SearchableHead a 10^5-width space (meta check)", lambda: SearchableHead(16, 8, space=MLPSpace(widths=list(range(1, 100001)))))
# the seventh probe's D9 (P1, P5, P12) again
p("RD9d from_pretrained(123)", lambda: NASHead.from_pretrained(123))
p("RD9e from_pretrained(dir/genotype.json)", lambda: NASHead.from_pretrained(os.path.join(d, "genotype.json")))
p("RD9f recalibrate_batchnorm(head, None)", lambda: recalibrate_batchnorm(NASHead.from_genotype(g, 16), None))


def negative_var():
    from safetensors.torch import load_file, save_file
    from safetensors import safe_open
    d2 = os.path.join(T, "neg")
    NASHead.from_genotype(g, 16).save_pretrained(d2)
    f = os.path.join(d2, "head.safetensors")
    with safe_open(f, "pt") as fh:
        meta = fh.metadata()
    w = load_file(f)
    k = next(k for k in w if k.endswith("running_var"))
    w[k] = -torch.ones_like(w[k])
    save_file(w, f, metadata=meta)
    return NASHead.from_pretrained(d2).eval()(torch.randn(4, 16))


p("RD9g P12 running_var -1", negative_var)
