"""Probe 16 (h54) of #33, in process: L3 (views) beyond the framework's forward, L4 beyond
features_only, L5 save_pretrained variants, the Python API a user imports (from_pretrained of
other frameworks' exports, create_framework with such heads, presets).
Usage: PYTHONPATH=<archive copy> python probe16_lib.py WORKDIR (reads WORKDIR/runs, e0, e1; writes only under WORKDIR)."""
import os
import sys
import traceback
from pathlib import Path

import torch

W = Path(sys.argv[1])
os.chdir(W)
torch.manual_seed(0)


def probe(pid, what, fn):
    try:
        r = fn()
        print(f"{pid} {what}: OK {str(r)[:300]}")
    except Exception as e:  # noqa: BLE001
        tb = traceback.extract_tb(e.__traceback__)[-1]
        print(f"{pid} {what}: {type(e).__name__}: {str(e)[:400]}  [at {Path(tb.filename).name}:{tb.lineno}]")


from nasiam.backbones import create_backbone  # noqa: E402
from nasiam.data import MultiViewTransform, augment_recipe  # noqa: E402

# ---- V: more than two views outside the framework's forward (L3)
from nasiam.data.device import DeviceViewSet  # noqa: E402
from nasiam.frameworks import create_framework  # noqa: E402
from nasiam.head import NASHead  # noqa: E402

probe("V2", "DeviceViewSet(..., n_views=3)", lambda: DeviceViewSet(None, torch.arange(4), None, n_views=3))


def arch_step(n_views, as_tensor=False):
    from nasiam.search.architect import Architect
    torch.manual_seed(0)
    bb = create_backbone("resnet10t", in_chans=3)
    m = create_framework("simsiam", bb, bb.num_features, heads="search", space="mlp",
                         proj_hidden_dim=32, proj_output_dim=32, pred_hidden_dim=16)
    a = Architect(m)
    torch.manual_seed(1)
    views = [torch.randn(4, 3, 16, 16) for _ in range(n_views)]
    a.step(torch.stack(views) if as_tensor else views, progress=0.5)
    return torch.cat([p.detach().flatten() for p in a.arch_parameters()]) if hasattr(a, "arch_parameters") else \
        torch.cat([p.detach().flatten() for p in a.arch.arch_params])


def v3():
    two, three = arch_step(2), arch_step(3)
    return f"3-view step accepted; logits equal to the 2-view step's: {torch.equal(two, three)}"


probe("V3", "Architect(model).step([v1, v2, v3]) (the search's architecture step, not forward)", v3)
probe("V4", "Architect(model).step(a (V, B, C, H, W) tensor)", lambda: arch_step(2, as_tensor=True).shape)

# ---- BB: backbones whose output is no pooled vector (L4 and around it)
for pid, kw in [("BB1", {"features_only": 1}), ("BB2", {"features_only": False}), ("BB3", {"global_pool": ""}),
                ("BB4", {"features_only": "False"})]:
    def bb(kw=kw):
        b = create_backbone("resnet10t", **kw)
        m = create_framework("simsiam", b, b.num_features, proj_hidden_dim=32, proj_output_dim=32, pred_hidden_dim=16)
        return m([torch.randn(4, 3, 16, 16), torch.randn(4, 3, 16, 16)])["loss"]
    probe(pid, f"create_backbone('resnet10t', **{kw}) then a forward", bb)

# ---- SP: save_pretrained and the heads/ folder of a run (L5)
head = NASHead.from_pretrained("e0/heads/projector")
os.makedirs("links", exist_ok=True)
if not os.path.lexists("links/s0heads"):
    os.symlink(os.path.abspath("runs/s0/heads"), "links/s0heads")
probe("SP1", "save_pretrained('links/s0heads') (a link to runs/s0/heads)",
      lambda: (head.save_pretrained("links/s0heads"), sorted(os.listdir("runs/s0/heads")))[1])
os.makedirs("proj", exist_ok=True)
Path("proj/config.yaml").write_text("model: {lr: 0.1}\n")   # a user's own project config (Hydra-style)
probe("SP2", "save_pretrained('proj/heads') where proj/ is a user's project with its own config.yaml",
      lambda: (head.save_pretrained("proj/heads"), sorted(os.listdir("proj/heads")))[1])
probe("SP3", "save_pretrained('proj/heads/projector')",
      lambda: (head.save_pretrained("proj/heads/projector"), sorted(os.listdir("proj/heads/projector")))[1])
probe("SP4", "save_pretrained('runs/s0/heads/') (trailing slash)", lambda: head.save_pretrained("runs/s0/heads/"))
probe("SP5", "save_pretrained('runs/s0/heads/../heads')", lambda: head.save_pretrained("runs/s0/heads/../heads"))

# ---- H: heads of other frameworks and widths through the Python API
probe("H1", "NASHead.from_pretrained('e1/heads/projector') (simclr's)", lambda: NASHead.from_pretrained("e1/heads/projector").genotype)
probe("H2", "NASHead.from_pretrained('e0') (an export's top folder)", lambda: NASHead.from_pretrained("e0"))
probe("H3", "NASHead.from_pretrained('runs/s0/heads/predictor')", lambda: NASHead.from_pretrained("runs/s0/heads/predictor").genotype)
probe("H4", "NASHead.from_pretrained('e1/heads/predictor') (simclr has none)", lambda: NASHead.from_pretrained("e1/heads/predictor"))


def h5():
    b = create_backbone("resnet10t")
    p = NASHead.from_pretrained("e1/heads/projector")
    m = create_framework("simsiam", b, b.num_features, heads={"projector": p}, proj_hidden_dim=32,
                         proj_output_dim=32, pred_hidden_dim=16)
    return m([torch.randn(4, 3, 16, 16), torch.randn(4, 3, 16, 16)])["loss"]


probe("H5", "create_framework('simsiam', heads={'projector': simclr's exported head}) at other widths", h5)


def h6():
    b = create_backbone("resnet18")   # 512 features; the export was on resnet10t (512 too)
    p = NASHead.from_pretrained("e0/heads/projector")
    m = create_framework("mocov3", b, b.num_features, heads={"projector": p})
    return m([torch.randn(4, 3, 16, 16), torch.randn(4, 3, 16, 16)])["loss"]


probe("H6", "create_framework('mocov3', heads={'projector': simsiam's exported projector}) at the method's widths", h6)
probe("H7", "NASHead.from_pretrained(Path) with map_location='meta'", lambda: NASHead.from_pretrained(Path("e0/heads/projector"), map_location="meta"))
from nasiam import presets  # noqa: E402

probe("PR1", "list_presets()", lambda: presets.list_presets())
for name in presets.list_presets():
    probe(f"PR2 {name}", "create_head(name, in_dim=512) forward", lambda name=name: presets.create_head(name, in_dim=512)(torch.randn(4, 512)).shape)
probe("PR3", "create_head('simsiam_projector', in_dim=512, hidden_dim=64, out_dim=32)",
      lambda: presets.create_head("simsiam_projector", in_dim=512, hidden_dim=64, out_dim=32)(torch.randn(4, 512)).shape)
probe("PR4", "create_head('simsiam_projector') (no in_dim)", lambda: presets.create_head("simsiam_projector"))
probe("PR5", "create_head('SimSiam_Projector', in_dim=8)", lambda: presets.create_head("SimSiam_Projector", in_dim=8))
probe("PR6", "get_preset('simsiam_projector', hidden_dim=0)", lambda: presets.get_preset("simsiam_projector", hidden_dim=0))
probe("PR7", "get_preset('simsiam_projector', hidden_dim=-5)", lambda: presets.get_preset("simsiam_projector", hidden_dim=-5))
probe("PR8", "get_preset('simsiam_projector', bogus=1)", lambda: presets.get_preset("simsiam_projector", bogus=1))
probe("PR9", "get_preset('simsiam_projector', hidden_dim=10**9)", lambda: presets.get_preset("simsiam_projector", hidden_dim=10**9))
probe("PR10", "create_head('simsiam_projector', in_dim=512, hidden_dim=2**20) (allocation)",
      lambda: presets.create_head("simsiam_projector", in_dim=512, hidden_dim=2**20))

# ---- second pass (after the first): V1 with the right recipe call; the architecture step on a (B, C, H, W) tensor

probe("V1b", "MultiViewTransform(RECIPES[...], n_views=3): accepted though no framework trains on 3",
      lambda: len(MultiViewTransform(augment_recipe("simsiam", __import__("nasiam.data.datasets").data.datasets.dataset_info("synthetic"), 16), n_views=3)(__import__("PIL.Image").Image.new("RGB", (16, 16)))))


def v5():
    from nasiam.search.architect import Architect
    bb = create_backbone("resnet10t")
    m = create_framework("simsiam", bb, bb.num_features, heads="search", space="mlp",
                         proj_hidden_dim=32, proj_output_dim=32, pred_hidden_dim=16)
    return Architect(m).step(torch.randn(4, 3, 16, 16), progress=0.5)


probe("V5", "Architect(model).step(one (B, C, H, W) tensor) (K11's case, on the architecture step)", v5)
if os.path.exists("runs/s0/heads/head.safetensors"):   # SP1 wrote into the run: undo, for the later probes
    os.remove("runs/s0/heads/head.safetensors")
    os.remove("runs/s0/heads/genotype.json")

# ---- L3 itself: every framework's forward with 2 views (accepted) and 3 (refused)
for fw in ("simsiam", "simclr", "mocov2", "mocov3"):
    def fwd(fw=fw, n=2):
        b = create_backbone("resnet10t")
        m = create_framework(fw, b, b.num_features, proj_hidden_dim=32, proj_output_dim=32,
                             **({"pred_hidden_dim": 16} if fw in ("simsiam", "mocov3") else {}),
                             **({"queue_size": 64} if fw == "mocov2" else {}))
        return float(m([torch.randn(4, 3, 16, 16) for _ in range(n)])["loss"])
    probe(f"L3-{fw}-2", f"{fw} forward, 2 views", fwd)
    probe(f"L3-{fw}-3", f"{fw} forward, 3 views", lambda fwd=fwd: fwd(n=3))
