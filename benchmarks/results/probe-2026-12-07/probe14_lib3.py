# ruff: noqa: E401, E402, E701, E702, E731  (probe scripts: short setups on one line; imports beside the probes that use them)
"""Fourteenth probe of #33 (h49), part 3: top_genotypes, lightly, timm. Usage: python probe14_lib3.py WORKDIR"""
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


from nasiam import NASHead, SearchableHead

g = SearchableHead(16, 8).genotype()
probe("SH17b-top_genotypes-1e6-4-layers", lambda: len(SearchableHead(16, 8, num_layers=4).top_genotypes(10**6)), limit=60)
probe("SH17c-top_genotypes-1e9-8-layers", lambda: len(SearchableHead(16, 8, num_layers=8).top_genotypes(10**9)), limit=60)
probe("SH17d-canonical_count-64-layers", lambda: SearchableHead(16, 8, num_layers=64).canonical_count())
# lightly integration with odd models / sources
from lightly.models.modules import MoCoProjectionHead, SimSiamPredictionHead, SimSiamProjectionHead

from nasiam.integrations.lightly import replace_heads


def lm():
    m = nn.Module(); m.backbone = nn.Flatten(); m.projection_head = SimSiamProjectionHead(32, 16, 16); m.prediction_head = SimSiamPredictionHead(16, 8, 16); return m
nh = NASHead.from_genotype(SearchableHead(32, 16).genotype(), 32)
probe("LY1-ok", lambda: sorted(replace_heads(lm(), {"projector": nh})))
probe("LY2-head-wrong-in_dim", lambda: replace_heads(lm(), {"projector": NASHead.from_genotype(SearchableHead(48, 16).genotype(), 48)}))
probe("LY3-source-a-file", lambda: (Path("plain.txt").write_text("hello"), replace_heads(lm(), "plain.txt"))[1])
probe("LY4-source-missing-unicode", lambda: replace_heads(lm(), "nö\x1b[2J"))
probe("LY5-source-SearchableHead", lambda: sorted(replace_heads(lm(), {"projector": SearchableHead(32, 16)})))
probe("LY6-slot-mapping-odd", lambda: replace_heads(lm(), {"projector": nh}, slots={"backbone": "projector"}))
probe("LY6b-after-LY6-backbone-is", lambda: (lambda m: (replace_heads(m, {"projector": nh}, slots={"backbone": "projector"}), type(m.backbone).__name__)[1])(lm()))
probe("LY7-momentum-suffix-empty", lambda: (lambda m: (replace_heads(m, {"projector": nh}, momentum_suffix=""), m.projection_head is nh, [p.requires_grad for p in m.projection_head.parameters()][:2])[1:])(lm()))
probe("LY8-moco-head", lambda: (lambda m: (replace_heads(m, {"projector": nh}), type(m.projection_head_momentum).__name__, all(not p.requires_grad for p in m.projection_head_momentum.parameters())))(type("M", (nn.Module,), {})()) if False else (lambda m: (setattr(m, "projection_head", MoCoProjectionHead(32, 16, 16)), setattr(m, "projection_head_momentum", MoCoProjectionHead(32, 16, 16)), replace_heads(m, {"projector": nh}), type(m.projection_head_momentum).__name__)[-1])(nn.Module()))
probe("LY9-slot-attribute-path-dotted", lambda: replace_heads(lm(), {"projector": nh}, slots={"projection_head.layers": "projector"}))
probe("LY10-model-not-module", lambda: replace_heads(object(), {"projector": nh}))
# timm backbones
from nasiam.backbones import create_backbone

probe("TB1-name-unicode", lambda: create_backbone("rësnet18"))
probe("TB2-name-escape", lambda: create_backbone("resnet\x1b[2J"))
probe("TB3-in_chans-0", lambda: create_backbone("resnet10t", in_chans=0))
probe("TB4-in_chans-bool", lambda: create_backbone("resnet10t", in_chans=True))
probe("TB5-pretrained_path-missing", lambda: create_backbone("resnet10t", pretrained_path="/nonexistent/x.pth"))
probe("TB6-pretrained_path-dev-zero", lambda: create_backbone("resnet10t", pretrained_path="/dev/zero"))
probe("TB7-kwarg-num_classes", lambda: create_backbone("resnet10t", num_classes=10)(torch.randn(2, 3, 16, 16)).shape)
probe("TB8-hf-hub-name", lambda: create_backbone("hf-hub:timm/resnet18.a1_in1k"))
probe("TB9-pretrained-True-kwarg", lambda: create_backbone("resnet10t", pretrained=True))
