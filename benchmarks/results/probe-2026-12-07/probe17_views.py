"""probe 17 (h56): encode's two-view check (951b1b6, M6) on every in-process path a user takes:
forward + backward, Architect first- and second-order, Architect.step on encoded features,
select_by_trials-style encode under no_grad, each framework, fixed and searchable heads, tuples."""
import traceback

import torch

from nasiam.backbones import create_backbone
from nasiam.frameworks import create_framework
from nasiam.search.architect import Architect


def probe(pid, what, fn, expect="ok"):
    try:
        r = fn()
        got = "ok"
    except Exception as e:  # noqa: BLE001
        got, r = "error", f"{type(e).__name__}: {str(e)[:200]}"
        if not isinstance(e, ValueError):
            traceback.print_exc(limit=1)
    print(f"{pid}: {what}: {got}{' - ' + str(r) if r is not None else ''}{'' if got == expect else '  **UNEXPECTED**'}")


def model(fw, heads="search"):
    torch.manual_seed(0)
    bb = create_backbone("resnet10t", in_chans=3)
    kw = dict(proj_hidden_dim=32, proj_output_dim=32)
    if fw in ("simsiam", "mocov3"):
        kw["pred_hidden_dim"] = 16
    if fw == "mocov2":
        kw["queue_size"] = 64
    if heads == "search":
        kw["space"] = "mlp"
    return create_framework(fw, bb, bb.num_features, heads=heads, **kw)


def views(n=2, b=4):
    torch.manual_seed(1)
    return [torch.randn(b, 3, 16, 16) for _ in range(n)]


for fw in ("simsiam", "simclr", "mocov2", "mocov3", "moco"):
    for heads in ("search", "default"):
        def fwd(fw=fw, heads=heads, tup=False):
            m = model(fw, heads)
            v = views()
            out = m(tuple(v) if tup else v)
            out["loss"].backward()
            return f"loss {out['loss'].item():.3f}"
        probe(f"F-{fw}-{heads}", "forward([v1, v2]) + backward", fwd)
        probe(f"FT-{fw}-{heads}", "forward((v1, v2)) tuple", lambda fw=fw, heads=heads: fwd(fw, heads, True))
        probe(f"F3-{fw}-{heads}", "forward([v1, v2, v3]) refused", lambda fw=fw, heads=heads: model(fw, heads)(views(3)), "error")
    for order in (1, 2):
        def arch(fw=fw, order=order):
            m = model(fw)
            a = Architect(m, order=order)
            if order == 2:
                with torch.no_grad():
                    tr = m.encode(views())
                return a.step(views(), train_encoded=tr, progress=0.5)
            return a.step(views(), progress=0.5)
        probe(f"A{order}-{fw}", f"Architect(order={order}).step([v1, v2])", lambda arch=arch: (arch(), None)[1])

    def enc(fw=fw):
        m = model(fw)
        a = Architect(m)
        with torch.no_grad():
            e = m.encode(views())
        a.step(encoded=e, progress=0.5)
    probe(f"AE-{fw}", "Architect.step(encoded=model.encode([v1, v2]))", enc)
    probe(f"A3-{fw}", "Architect.step([v1, v2, v3]) refused", lambda fw=fw: Architect(model(fw)).step(views(3), progress=0.5), "error")
    probe(f"B1-{fw}", "forward with batch size 1 views", lambda fw=fw: (model(fw, "default").eval()(views(2, 2)), None)[1])
