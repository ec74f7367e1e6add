# ruff: noqa: E401, E402, E701, E702, E731  (probe scripts: short setups on one line; imports beside the probes that use them)
"""Thirteenth probe of #33 (h46): swap_head(s), load_head_sources, replace_heads type checks."""
import torch
from torch import nn

from nasiam import NASHead, SearchableHead
from nasiam.integrations.lightly import load_head_sources, replace_heads
from nasiam.integrations.plain import swap_head, swap_heads


def probe(pid, fn):
    try:
        out = fn(); print(f"{pid}: OK {out!r}"[:400])
    except BaseException as e:
        print(f"{pid}: {type(e).__name__}: {str(e)[:400]!r}")


torch.manual_seed(0)
g = SearchableHead(16, 16).genotype()
head = lambda i=16, o=16: NASHead.from_genotype(g, i) if o == 16 else nn.Linear(i, o)

class Sub(nn.Sequential):
    pass

def m1():
    return nn.Sequential(nn.Linear(16, 16), nn.Linear(16, 16))
probe("SW1-Sequential-subclass", lambda: type(swap_head(Sub(nn.Linear(16, 16), nn.Linear(16, 16)), "1", head())).__name__)
def none_slot():
    m = nn.Module(); m.register_module("proj", None); swap_head(m, "proj", head(), in_dim=16, out_dim=16); return type(m.proj).__name__
probe("SW2-None-slot-with-dims", none_slot)
def none_slot_nodims():
    m = nn.Module(); m.register_module("proj", None); return swap_head(m, "proj", head())
probe("SW3-None-slot-no-dims", none_slot_nodims)
probe("SW4-head-not-module", lambda: swap_head(m1(), "1", 5, in_dim=16, out_dim=16))
probe("SW5-head-genotype", lambda: swap_head(m1(), "1", g, in_dim=16, out_dim=16))
probe("SW6-head-None", lambda: swap_head(m1(), "1", None, in_dim=16, out_dim=16))
probe("SW7-path-empty", lambda: swap_head(m1(), "", head()))
probe("SW8-path-parameter", lambda: swap_head(m1(), "0.weight", head(), in_dim=16, out_dim=16))
probe("SW9-path-dot-end", lambda: swap_head(m1(), "1.", head()))
def nested():
    inner = nn.Sequential(nn.Linear(16, 16))
    m = nn.Sequential(inner, nn.ReLU())
    swap_heads(m, {"0": head(), "0.0": nn.Linear(16, 16)})
    return {"model[0]": type(m[0]).__name__, "replaced old[0.0] in": "detached module" if m[0] is not inner else "model",
            "inner[0] now": type(inner[0]).__name__}
probe("SW10-swap_heads-parent-and-child", nested)
def child_first():
    inner = nn.Sequential(nn.Linear(16, 16)); m = nn.Sequential(inner, nn.ReLU())
    swap_heads(m, {"0.0": nn.Linear(16, 16), "0": head()})
    return type(m[0]).__name__
probe("SW11-swap_heads-child-then-parent", child_first)
probe("SW12-head-is-model-itself", lambda: (lambda m: (swap_head(m, "1", m, in_dim=16, out_dim=16), "ok"))(m1()))

probe("LS1-mapping-subclass-module", lambda: {k: type(v).__name__ for k, v in load_head_sources({"projector": Sub(nn.Linear(16, 16))})[0].items()})
probe("LS2-mapping-None", lambda: load_head_sources({"projector": None}))
probe("LS3-mapping-genotype", lambda: {k: type(v).__name__ for k, v in load_head_sources({"projector": g})[0].items()})
probe("LS4-mapping-module-class-not-instance", lambda: load_head_sources({"projector": nn.Linear}))
probe("LS5-mapping-non-str-key", lambda: load_head_sources({5: head()}))
probe("LS6-empty-mapping", lambda: load_head_sources({}))
def lightly_none():
    m = nn.Module(); m.projection_head = None; m.prediction_head = nn.Linear(16, 16)
    return replace_heads(m, {"projector": head()})
probe("LS7-replace_heads-model-slot-None", lambda: lightly_none())
def lightly_ok():
    m = nn.Module(); m.projection_head = nn.Sequential(nn.Linear(16, 16), nn.Linear(16, 16))
    return type(replace_heads(m, {"projector": g})).__name__ if True else None
probe("LS8-replace_heads-genotype", lightly_ok)
