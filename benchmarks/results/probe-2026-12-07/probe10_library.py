"""Family 10 of the tenth probe of issue #33 (h38): odd tensors (non-contiguous, channels_last,
requires_grad, 0-size, 0-d, meta), a CPU-only machine asked for CUDA, and state_dicts with
extra/missing/misshaped keys; what recalibrate_batchnorm does with them. Each call prints: id,
the exception type and its first 220 characters (or "ok: ..."), and the frame that raised it."""
import copy
import os
import pickle
import tempfile
import traceback

import torch
from safetensors.torch import load_file, save_file

from nasiam import NASHead, SearchableHead, recalibrate_batchnorm

T = tempfile.mkdtemp(dir=os.environ.get("T"))
torch.manual_seed(0)


def p(pid, fn):
    try:
        r = fn()
        print(pid, "| ok:", repr(r)[:220].replace("\n", " "))
    except Exception as e:   # noqa: BLE001 - the probe reports what the API raised
        where = traceback.extract_tb(e.__traceback__)[-1]
        print(pid, "|", type(e).__name__ + ":", str(e)[:220].replace("\n", "|"),
              f"(raised at {os.path.basename(where.filename)}:{where.lineno})")


def head():
    return NASHead.from_genotype(SearchableHead(16, 8).genotype(), 16)


x = torch.randn(32, 16)
p("N1 NASHead forward, a non-contiguous batch (x.t().t() of a (16, 32))", lambda: tuple(head()(torch.randn(16, 32).t()).shape))
p("N2 NASHead forward, a (B, 16, 1, 1) channels_last feature map (a pooled CNN output not flattened)",
  lambda: head()(torch.randn(4, 16, 1, 1).to(memory_format=torch.channels_last)))
p("N3 NASHead forward, requires_grad input, backward reaches it", lambda: (lambda i: (head()(i).sum().backward(), i.grad.shape)[1])(x.clone().requires_grad_()))
p("N4 NASHead forward in train mode, a 0-row batch", lambda: tuple(head().train()(torch.randn(0, 16)).shape))
p("N5 NASHead forward in eval mode, a 0-row batch", lambda: tuple(head().eval()(torch.randn(0, 16)).shape))
p("N6 NASHead forward in train mode, a 1-row batch", lambda: tuple(head().train()(torch.randn(1, 16)).shape))
p("N7 NASHead forward, a 0-d tensor", lambda: head()(torch.tensor(1.0)))
p("N8 NASHead forward, an int64 batch", lambda: head()(torch.ones(4, 16, dtype=torch.long)))
p("N9 NASHead forward, a meta tensor", lambda: head()(torch.empty(4, 16, device="meta")))
p("N10 SearchableHead forward (softmax), a 0-row batch in train mode", lambda: tuple(SearchableHead(16, 8)(torch.randn(0, 16)).shape))
p("N11 SearchableHead forward (gumbel), a non-contiguous expand()ed batch",
  lambda: (lambda h: (h.set_sampling("gumbel", tau=1.0), tuple(h(torch.randn(1, 16).expand(8, 16)).shape))[1])(SearchableHead(16, 8)))
p("N12 head.to('cuda') on a machine without CUDA", lambda: head().to("cuda"))
p("N13 SearchableHead(16, 8).cuda() without CUDA", lambda: SearchableHead(16, 8).cuda())
# recalibrate_batchnorm with odd batches
p("R1 recalibrate_batchnorm, a 0-d tensor batch", lambda: recalibrate_batchnorm(head(), [torch.tensor(1.0)]))
p("R2 recalibrate_batchnorm, 0-row batches only", lambda: recalibrate_batchnorm(head(), [torch.randn(0, 16)] * 3))
p("R3 recalibrate_batchnorm, (features, labels) tuples (a DataLoader's batches)",
  lambda: recalibrate_batchnorm(head(), [(torch.randn(8, 16), torch.zeros(8))]))
p("R4 recalibrate_batchnorm, max_batches=1 and a NaN batch after it (never used)",
  lambda: recalibrate_batchnorm(head(), [torch.randn(8, 16), torch.full((8, 16), float("nan"))], max_batches=1))
p("R5 recalibrate_batchnorm, max_batches=0", lambda: recalibrate_batchnorm(head(), [torch.randn(8, 16)], max_batches=0))
p("R6 recalibrate_batchnorm, a requires_grad non-contiguous batch", lambda: recalibrate_batchnorm(head(), [torch.randn(16, 8).t().requires_grad_()]))
p("R7 recalibrate_batchnorm, a (8, 16, 1, 1) channels_last batch", lambda: recalibrate_batchnorm(head(), [torch.randn(8, 16, 1, 1).to(memory_format=torch.channels_last)]))
p("R8 recalibrate_batchnorm on a head with no BatchNorm (the first batch NaN)",
  lambda: recalibrate_batchnorm(torch.nn.Linear(16, 4), [torch.full((8, 16), float("nan"))]))
# state_dicts with extra / missing / misshaped keys, through from_pretrained (strict and not)
base = os.path.join(T, "h0")
head().save_pretrained(base)
state = load_file(os.path.join(base, "head.safetensors"))


def variant(name, tensors, meta=True):
    d = os.path.join(T, name)
    os.makedirs(d)
    from safetensors import safe_open
    with safe_open(os.path.join(base, "head.safetensors"), framework="pt") as f:
        metadata = f.metadata()
    save_file(tensors, os.path.join(d, "head.safetensors"), metadata=metadata if meta else None)
    open(os.path.join(d, "genotype.json"), "w").write(open(os.path.join(base, "genotype.json")).read())
    return d


extra = variant("extra", {**state, "evil.weight": torch.zeros(3)})
missing = variant("missing", {k: v for k, v in state.items() if not k.endswith("running_mean")})
bad = variant("bad", {k: (v[:-1] if k.endswith("0.linear.weight") else v) for k, v in state.items()})
ncbt = variant("nbt", {k: (v.double() if k.endswith("num_batches_tracked") else v) for k, v in state.items()})
nometa = variant("nometa", dict(state), meta=False)
p("S1 from_pretrained, an extra key, strict", lambda: NASHead.from_pretrained(extra))
p("S2 from_pretrained, an extra key, strict=False", lambda: type(NASHead.from_pretrained(extra, strict=False)).__name__)
p("S3 from_pretrained, running_mean missing, strict=False (defaults 0 taken?)",
  lambda: float(NASHead.from_pretrained(missing, strict=False)[0].norm.running_mean.abs().sum()))
p("S4 from_pretrained, a misshaped weight, strict=False", lambda: NASHead.from_pretrained(bad, strict=False))
p("S5 from_pretrained, num_batches_tracked stored as float64", lambda: NASHead.from_pretrained(ncbt))
p("S6 from_pretrained, a weights file with no metadata (no recorded genotype)", lambda: type(NASHead.from_pretrained(nometa)).__name__)
p("S7 load_state_dict (torch's) of a misshaped state", lambda: head().load_state_dict(load_file(os.path.join(bad, "head.safetensors"))))
p("S8 SearchableHead.load_state_dict of another width's state",
  lambda: SearchableHead(16, 8).load_state_dict(SearchableHead(32, 8).state_dict()))
# copies
p("C1 deepcopy then save_pretrained", lambda: copy.deepcopy(head()).save_pretrained(os.path.join(T, "c1")).name)
p("C2 pickle round trip of a SearchableHead, genotype equal", lambda: (lambda h: pickle.loads(pickle.dumps(h)).genotype() == h.genotype())(SearchableHead(16, 8)))
p("C3 save_pretrained of a head moved to float16 then from_pretrained (dtype)",
  lambda: next(NASHead.from_pretrained(head().half().save_pretrained(os.path.join(T, "c3"))).parameters()).dtype)
p("C4 save_pretrained of a head whose weight is a non-contiguous view (transposed in place via set_)",
  lambda: (lambda h: (h[0].linear.weight.data.set_(h[0].linear.weight.data.t().contiguous().t()), h.save_pretrained(os.path.join(T, "c4")).name)[1])(head()))
