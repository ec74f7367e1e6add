# ruff: noqa: E402, E702, E741  (a probe script: compact on purpose)
"""Q/Part B: what the lightly and solo-learn adapters accept from a user's model/config, and
NASHead.from_pretrained of hostile genotype.json/config.json (no solo-learn installed: a fake base
method class stands in for solo's; omegaconf configs as Hydra makes them)."""
import json
import os
import shutil
import traceback

import torch
import torch.nn as nn
from omegaconf import OmegaConf

P = os.environ["PROBE"]; os.chdir(P)
RUN = [os.path.join("runs/p0", d) for d in os.listdir("runs/p0")][0]
from nasiam import NASHead
from nasiam.integrations.lightly import replace_heads
from nasiam.integrations.solo_learn import main as solo_main
from nasiam.integrations.solo_learn import nas_method


def t(label, fn):
    try:
        r = fn()
        print(f"[{label}] ok: {str(r)[:220]}")
    except BaseException as e:
        tb = traceback.extract_tb(e.__traceback__)[-1]
        print(f"[{label}] {type(e).__name__}: {str(e)[:300]}  (raised at {os.path.basename(tb.filename)}:{tb.lineno})")

class LightlySimSiam(nn.Module):
    def __init__(self, feat=512, proj=512, pred_hidden=128):
        super().__init__()
        self.backbone = nn.Identity()
        self.projection_head = nn.Sequential(nn.Linear(feat, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, proj))
        self.prediction_head = nn.Sequential(nn.Linear(proj, pred_hidden), nn.ReLU(), nn.Linear(pred_hidden, proj))

# lightly
t("L1 run dir", lambda: sorted(replace_heads(LightlySimSiam(), RUN)))
t("L2 run/heads folder itself", lambda: sorted(replace_heads(LightlySimSiam(), RUN + "/heads")))
t("L3 source ''", lambda: replace_heads(LightlySimSiam(), ""))
t("L4 source None", lambda: replace_heads(LightlySimSiam(), None))
t("L5 source int", lambda: replace_heads(LightlySimSiam(), 5))
t("L6 source a head folder (heads/projector)", lambda: replace_heads(LightlySimSiam(), RUN + "/heads/projector"))
t("L7 model widths 128 from run at 512", lambda: replace_heads(LightlySimSiam(proj=128), RUN))
t("L8 model whose head is Identity", lambda: (lambda m: (setattr(m, "projection_head", nn.Identity()), replace_heads(m, RUN)))(LightlySimSiam()))
t("L9 model head a plain Linear", lambda: (lambda m: (setattr(m, "projection_head", nn.Linear(512, 512)), sorted(replace_heads(m, RUN))))(LightlySimSiam()))
t("L10 slots={} ", lambda: replace_heads(LightlySimSiam(), RUN, slots={}))
t("L11 slots name unknown slot", lambda: replace_heads(LightlySimSiam(), RUN, slots={"projection_head": "nosuch"}))
t("L12 slots not a mapping", lambda: replace_heads(LightlySimSiam(), RUN, slots=["projection_head"]))
t("L13 mapping with a str head", lambda: replace_heads(LightlySimSiam(), {"projector": "x"}))
t("L14 model an int", lambda: replace_heads(5, RUN))
t("L15 momentum_suffix None", lambda: replace_heads(LightlySimSiam(), RUN, momentum_suffix=None))

# solo-learn, with a fake base method
class FakeSoloSimSiam(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.projector = nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, 512))
        self.predictor = nn.Sequential(nn.Linear(512, 128), nn.ReLU(), nn.Linear(128, 512))
    @staticmethod
    def add_and_assert_specific_cfg(cfg): return cfg
Method = nas_method(FakeSoloSimSiam)
def solo(kw):
    m = Method(OmegaConf.create({"method_kwargs": kw}))
    return {s: type(getattr(m, s)).__name__ for s in ("projector", "predictor")}
def weights_kept(kw):
    m = Method(OmegaConf.create({"method_kwargs": kw}))
    ref = NASHead.from_pretrained(RUN + "/heads/projector")
    a = next(iter(m.projector.state_dict().values())); b = next(iter(ref.state_dict().values()))
    return "searched weights kept" if torch.equal(a, b) else "fresh weights"
t("S1 run, init weights true", lambda: weights_kept({"nas_heads": RUN, "nas_init_weights": True}))
t("S2 run, nas_init_weights 'false' (a quoted YAML string)", lambda: weights_kept({"nas_heads": RUN, "nas_init_weights": "false"}))
t("S3 run, nas_init_weights 'no'", lambda: weights_kept({"nas_heads": RUN, "nas_init_weights": "no"}))
t("S4 run, nas_init_weights 0", lambda: weights_kept({"nas_heads": RUN, "nas_init_weights": 0}))
t("S5 nas_heads missing", lambda: solo({}))
t("S6 nas_heads int", lambda: solo({"nas_heads": 5}))
t("S7 nas_heads list", lambda: solo({"nas_heads": [RUN]}))
t("S8 nas_heads ''", lambda: solo({"nas_heads": ""}))
t("S9 nas_heads a dict", lambda: solo({"nas_heads": {"projector": RUN}}))
t("S10 nas_heads genotype.json path (search-style) missing", lambda: solo({"nas_heads": RUN + "/genotype.json"}))
t("S11 nas_heads a head folder", lambda: solo({"nas_heads": RUN + "/heads/projector"}))
t("S12 launcher no args", lambda: solo_main([]))
t("S13 launcher a folder", lambda: solo_main([P]))
open("fake_main.py", "w").write("print('fake solo script ran')\n")
t("S14 launcher, solo-learn not installed", lambda: solo_main(["fake_main.py"]))

# from_pretrained of hostile folders
H = "fp"; shutil.rmtree(H, ignore_errors=True)
def head_copy(name):
    d = os.path.join(H, name); shutil.copytree(RUN + "/heads/projector", d); return d
def edit_genotype(d, fn):
    g = json.load(open(f"{d}/genotype.json")); fn(g); open(f"{d}/genotype.json", "w").write(json.dumps(g))
d = head_copy("badconfig"); open(f"{d}/config.json", "w").write("[" * 100000)
t("F1 config.json garbage (ignored?)", lambda: type(NASHead.from_pretrained(d)).__name__)
d = head_copy("readme"); open(f"{d}/README.md", "w").write("---\n!!python/object:os.system ['echo pwned']\n---\n")
t("F2 hostile README (ignored?)", lambda: type(NASHead.from_pretrained(d)).__name__)
g0 = json.load(open(RUN + "/heads/projector/genotype.json")); print("genotype keys:", list(g0), str(g0)[:300])
d = head_copy("huge_in"); edit_genotype(d, lambda g: g.update(in_dim=10**9))
t("F3 in_dim 1e9", lambda: NASHead.from_pretrained(d))
d = head_copy("huge_in2"); edit_genotype(d, lambda g: g.update(in_dim=2**40))
t("F4 in_dim 2^40", lambda: NASHead.from_pretrained(d))
d = head_copy("deep"); open(f"{d}/genotype.json", "w").write("[" * 200000 + "]" * 200000)
t("F5 genotype.json 200k deep", lambda: NASHead.from_pretrained(d))
d = head_copy("nan"); open(f"{d}/genotype.json", "w").write(json.dumps(g0).replace(str(g0.get("in_dim")), "NaN", 1))
t("F6 genotype in_dim NaN", lambda: NASHead.from_pretrained(d))
d = head_copy("fifo_w"); os.remove(f"{d}/head.safetensors"); os.mkfifo(f"{d}/head.safetensors")
t("F7 head.safetensors a FIFO", lambda: NASHead.from_pretrained(d))
d = head_copy("dir_w"); os.remove(f"{d}/head.safetensors"); os.mkdir(f"{d}/head.safetensors")
t("F8 head.safetensors a folder", lambda: NASHead.from_pretrained(d))
d = head_copy("trunc"); b = open(f"{d}/head.safetensors", "rb").read(); open(f"{d}/head.safetensors", "wb").write(b[: len(b) // 2])
t("F9 head.safetensors truncated", lambda: NASHead.from_pretrained(d))
d = head_copy("hdrbig"); open(f"{d}/head.safetensors", "wb").write((2**62).to_bytes(8, "little") + b"{}")
t("F10 safetensors header length 2^62", lambda: NASHead.from_pretrained(d))
t("F11 hf-hub id offline, empty cache", lambda: NASHead.from_pretrained("hf-hub:user/name", subfolder="projector", cache_dir=P + "/hfcache"))
t("F12 hf-hub id with ../ subfolder", lambda: NASHead.from_pretrained("hf-hub:user/name", subfolder="../x"))
