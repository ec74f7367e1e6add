# ruff: noqa: E401, E402, E701, E702, E731  (probe scripts: short setups on one line; imports beside the probes that use them)
"""Fourteenth probe of #33 (h49): NASSearchCallback (pytorch_lightning 2.6) with odd slots, export dirs and modules.
Usage: python probe14_lightning.py WORKDIR"""
import os
import sys
import time
import warnings
from pathlib import Path

import torch
from torch import nn

W = Path(sys.argv[1]); W.mkdir(exist_ok=True); os.chdir(W)
warnings.filterwarnings("ignore")


def probe(pid, fn):
    t = time.perf_counter()
    try:
        out = fn(); print(f"{pid}: OK {out!r}"[:600], f"({time.perf_counter()-t:.2f}s)")
    except BaseException as e:
        print(f"{pid}: {type(e).__name__}: {str(e)[:500]!r}", f"({time.perf_counter()-t:.2f}s)")


def listing(root="."):
    return sorted(str(p) for p in Path(root).rglob("*"))


import pytorch_lightning as pl

from nasiam import SearchableHead
from nasiam.integrations.lightning import NASSearchCallback


class Tiny(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(8, 16)
        self.projection_head = SearchableHead(16, 8, space="mlp")

    def training_step(self, batch, i):
        z = self.projection_head(self.backbone(batch[0]))
        return z.pow(2).mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def data():
    g = torch.Generator().manual_seed(0)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(16, 8, generator=g)), batch_size=8)


def fit(cb, module=None):
    module = module or Tiny()
    trainer = pl.Trainer(max_epochs=1, callbacks=[cb], logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    trainer.fit(module, data())
    return module, trainer


torch.manual_seed(0)
os.makedirs("work/out", exist_ok=True)
# LG1: the baseline (slot from the attribute, export_dir at init)
probe("PL1-baseline-export_dir", lambda: (fit(NASSearchCallback(export_dir="work/lg1", warmup_epochs=0)), listing("work/lg1"))[1])
# LG2: a slot name that leaves the folder, export_dir at init: refused before training?
m = Tiny()
probe("PL2-slot-../../x-export_dir-init", lambda: (fit(NASSearchCallback({"../../lg2esc": m.projection_head}, export_dir="work/lg2", warmup_epochs=0), m), listing("."))[1])
# LG3: the same slot, no export_dir at init, then search.export(dir)
m3 = Tiny(); cb3 = NASSearchCallback({"../../lg3esc": m3.projection_head}, warmup_epochs=0)
probe("PL3-fit-slot-../../x", lambda: (fit(cb3, m3), "fitted")[1])
probe("PL3b-export(dir)", lambda: cb3.export("work/out/lg3"))
probe("PL3c-listing-after", lambda: [p for p in listing(".") if "lg3" in p])
# LG4: an absolute slot name
m4 = Tiny(); cb4 = NASSearchCallback({os.path.abspath("lg4abs"): m4.projection_head}, warmup_epochs=0)
probe("PL4-fit-slot-absolute", lambda: (fit(cb4, m4), "fitted")[1])
probe("PL4b-export(dir)", lambda: cb4.export("work/out/lg4"))
probe("PL4c-listing-after", lambda: [p for p in listing(".") if "lg4" in p])
# LG5: a slot with ESC
m5 = Tiny(); cb5 = NASSearchCallback({"p\x1b[2J": m5.projection_head}, warmup_epochs=0)
probe("PL5-fit-slot-ESC", lambda: (fit(cb5, m5), "fitted")[1])
probe("PL5b-export(dir)", lambda: cb5.export("work/out/lg5"))
probe("PL5c-listing-after", lambda: [p for p in listing(".") if "lg5" in p])
# LG6: export(dir) into a nasiam run (config.yaml) / export_dir a file
os.makedirs("work/run", exist_ok=True); Path("work/run/config.yaml").write_text("epochs: 1\n")
probe("PL6-export-into-a-run", lambda: cb3.export("work/run"))
Path("work/file").write_text("x")
probe("PL7-export_dir-a-file", lambda: NASSearchCallback(export_dir="work/file"))
probe("PL8-export_dir-unicode", lambda: (cb5.heads.clear(), None)[1] if False else (lambda m, cb: (fit(cb, m), listing("work/ü\u202e"))[1])(Tiny(), NASSearchCallback(export_dir="work/ü\u202e", warmup_epochs=0)))
# LG9: odd settings
probe("PL9-mode-nope", lambda: NASSearchCallback(mode="nope"))
probe("PL10-unknown-setting", lambda: NASSearchCallback(nope=1))
probe("PL11-lr-nan", lambda: NASSearchCallback(lr=float("nan")))
probe("PL12-warmup-negative", lambda: NASSearchCallback(warmup_epochs=-1))
probe("PL13-top_k-0", lambda: NASSearchCallback(top_k=0))
probe("PL14-framework-ESC-with-export_dir", lambda: NASSearchCallback(export_dir="work/lg14", framework="x\x1b[2J"))
probe("PL15-heads-not-searchable", lambda: fit(NASSearchCallback({"projector": nn.Linear(16, 8)}, warmup_epochs=0)))
probe("PL16-module-without-heads", lambda: fit(NASSearchCallback(warmup_epochs=0), type("P", (pl.LightningModule,), {"__init__": lambda s: (pl.LightningModule.__init__(s), setattr(s, "l", nn.Linear(8, 1)))[0], "training_step": lambda s, b, i: s.l(b[0]).mean(), "configure_optimizers": lambda s: torch.optim.SGD(s.parameters(), lr=0.1)})()))
probe("PL17-arch_dataloader-empty", lambda: fit(NASSearchCallback(arch_dataloader=[], warmup_epochs=0)))
probe("PL18-sampling-argmax-head", lambda: (lambda m: (m.projection_head.set_sampling("argmax"), fit(NASSearchCallback(warmup_epochs=0), m))[1])(Tiny()))
probe("PL19-same-head-two-slots", lambda: (lambda m: fit(NASSearchCallback({"a": m.projection_head, "b": m.projection_head}, export_dir="work/lg19", warmup_epochs=0), m))(Tiny()))
probe("PL19b-listing", lambda: listing("work/lg19"))
probe("PL20-slot-'heads'-and-'genotype.json'", lambda: (lambda m: fit(NASSearchCallback({"genotype.json": m.projection_head}, export_dir="work/lg20", warmup_epochs=0), m))(Tiny()))
probe("PL20b-listing", lambda: listing("work/lg20"))
print("FINAL-listing-outside-work:", [p for p in listing(".") if not p.startswith("work")])
print("FINAL-listing-parent:", sorted(os.listdir("..")))
