"""Probe 15 (h52) of #33: today's fixes (J2-J9, K1-K15) against legitimate use, in process.
Usage: PYTHONPATH=<archive copy> python probe15_lib.py WORKDIR  (writes only under WORKDIR)."""
import os
import sys
import traceback
from pathlib import Path

import numpy as np
import torch
from PIL import Image

W = Path(sys.argv[1])
W.mkdir(parents=True, exist_ok=True)
os.chdir(W)


def probe(pid, what, fn):
    try:
        r = fn()
        print(f"{pid} {what}: OK {str(r)[:300]}")
    except Exception as e:  # noqa: BLE001
        tb = traceback.extract_tb(e.__traceback__)[-1]
        print(f"{pid} {what}: {type(e).__name__}: {str(e)[:400]}  [at {Path(tb.filename).name}:{tb.lineno}]")


from nasiam.data.datasets import _load_image  # noqa: E402


def px(img):
    return np.asarray(img)


# ---- IM: image modes through the loader --dataset imagefolder uses
rng = np.random.default_rng(0)
g8 = rng.integers(0, 256, (8, 8), dtype=np.uint8)
Image.fromarray(g8, "L").save("l8.png")
probe("IM1", "8-bit L PNG reads exactly as convert('RGB')", lambda: bool((px(_load_image("l8.png")) == px(Image.open("l8.png").convert("RGB"))).all()))
for m, ext in [("RGB", "png"), ("RGB", "jpg"), ("LA", "png"), ("RGBA", "png"), ("1", "png"), ("1", "tif"), ("P", "png"), ("P", "gif"), ("CMYK", "jpg"), ("L", "tif"), ("L", "bmp")]:
    im = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), "RGB").convert(m)
    if m == "P":
        im.info["transparency"] = 0
    f = f"m_{m}.{ext}"
    im.save(f, **({"transparency": 0} if m == "P" else {}))
    probe(f"IM2-{m}-{ext}", f"{m} {ext} reads as before (== convert RGB)", lambda f=f: bool((px(_load_image(f)) == px(Image.open(f).convert("RGB"))).all()))
g16 = g8.astype(np.uint16) * 257
Image.fromarray(g16).save("g16.png")
print("   g16.png opens as", Image.open("g16.png").mode)
probe("IM3", "16-bit PNG from 8-bit*257 gives back the 8-bit", lambda: bool((px(_load_image("g16.png"))[..., 0] == g8).all()))
Image.fromarray(g16).save("g16.tif")
print("   g16.tif opens as", Image.open("g16.tif").mode)
probe("IM4", "16-bit TIFF (I;16) gives back the 8-bit", lambda: bool((px(_load_image("g16.tif"))[..., 0] == g8).all()))
Image.frombytes("I;16B", (8, 8), g16.astype(">u2").tobytes()).save("g16b.tif")
print("   g16b.tif opens as", Image.open("g16b.tif").mode)
probe("IM5", "16-bit big-endian TIFF gives back the 8-bit", lambda: bool((px(_load_image("g16b.tif"))[..., 0] == g8).all()))
Image.fromarray(g16).save("g16.pgm")
print("   g16.pgm opens as", Image.open("g16.pgm").mode)
probe("IM6", "16-bit PGM gives back the 8-bit", lambda: bool((px(_load_image("g16.pgm"))[..., 0] == g8).all()))
# a 16-bit PGM with maxval 1023 (10-bit): PIL scales? read the result
hdr = b"P5\n8 8\n1023\n"
open("g10.pgm", "wb").write(hdr + (g8.astype(np.uint16) * 4).astype(">u2").tobytes())
print("   g10.pgm opens as", Image.open("g10.pgm").mode, "max", np.asarray(Image.open("g10.pgm")).max())
probe("IM7", "10-bit PGM (maxval 1023) reads the 8-bit picture (max of row)", lambda: (int(px(_load_image("g10.pgm"))[..., 0].max()), int(g8.max())))
Image.fromarray(g8.astype(np.int32), "I").save("i32.tif")
print("   i32.tif opens as", Image.open("i32.tif").mode)
probe("IM8", "32-bit int TIFF holding 0..255 (refused by design)", lambda: _load_image("i32.tif"))
probe("IM9", "mode I saved as PNG", lambda: Image.fromarray(g8.astype(np.int32), "I").save("i32.png"))  # Pillow 13 cannot
Image.fromarray(g8.astype(np.float32) / 255, "F").save("f.tif")
probe("IM10", "float TIFF (refused by design)", lambda: _load_image("f.tif"))
Image.fromarray(g16).convert("I").save("i16as32.tif")
print("   i16as32.tif opens as", Image.open("i16as32.tif").mode)
probe("IM11", "I;16 converted to I and saved as TIFF", lambda: _load_image("i16as32.tif"))
big = (rng.integers(0, 256, (8, 8), dtype=np.uint16) * 257)
Image.fromarray(big).save("g16_2.png")
probe("IM12", "16-bit PNG through the imagefolder dataset", lambda: None)
os.makedirs("if16/train/a", exist_ok=True)
os.makedirs("if16/train/b", exist_ok=True)
Image.fromarray(g16).save("if16/train/a/x.png")
Image.fromarray(g16).save("if16/train/b/y.tif")
from nasiam.data.datasets import create_dataset  # noqa: E402

probe("IM13", "create_dataset('imagefolder') of 16-bit PNG + TIFF", lambda: [tuple(create_dataset("imagefolder", root="if16")[i][0].size) for i in range(2)])

# ---- SWa: only the file is recorded: the sweep's command-line options (overrides) and early_terminate
import inspect  # noqa: E402

from nasiam.runner import sweep as swmod  # noqa: E402

print("   _check_same_sweep is called with:", [ln.strip() for ln in inspect.getsource(swmod._run_study).splitlines() if "_check_same_sweep" in ln])
# ---- SW: sweep continuation (K2)
import inspect  # noqa: E402

import optuna  # noqa: E402

from nasiam.runner.sweep import _check_same_sweep, read_sweep  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)
base = """method: random
metric: {name: knn_top1, goal: maximize}
parameters:
  lr: {min: 0.01, max: 0.1, distribution: log_uniform_values}
  epochs: {value: 1}
"""
variants = {
    "SW1 unedited": base,
    "SW2 reordered keys": "parameters:\n  epochs: {value: 1}\n  lr: {distribution: log_uniform_values, max: 0.1, min: 0.01}\nmetric: {goal: maximize, name: knn_top1}\nmethod: random\n",
    "SW3 comments + whitespace": "# my sweep\n" + base.replace("parameters:", "parameters:   # the space\n\n") + "\n# end\n",
    "SW4 block style": "method: random\nmetric:\n  name: knn_top1\n  goal: maximize\nparameters:\n  lr:\n    min: 1.0e-2\n    max: 0.1\n    distribution: log_uniform_values\n  epochs:\n    value: 1\n",
    "SW5 name/description/program added (W&B fields)": base + "name: my sweep\ndescription: hi\nprogram: nasiam\n",
    "SW6 early_terminate added": base + "early_terminate: {type: hyperband, min_iter: 1}\n",
}
Path("sw_base.yaml").write_text(base)
st = optuna.create_study(direction="maximize")
probe("SW0", "first run records", lambda: _check_same_sweep(st, read_sweep("sw_base.yaml"), W))
for k, text in variants.items():
    Path("sw_v.yaml").write_text(text)
    probe(k.split()[0], k + " (continues?)", lambda: _check_same_sweep(st, read_sweep("sw_v.yaml"), W))
Path("sw_v.yaml").write_text(base.replace("goal: maximize", "goal: minimize"))
probe("SW7", "goal flipped (must refuse)", lambda: _check_same_sweep(st, read_sweep("sw_v.yaml"), W))
st2 = optuna.create_study(direction="minimize")
Path("sw_min.yaml").write_text(base.replace(", goal: maximize", ""))
_check_same_sweep(st2, read_sweep("sw_min.yaml"), W)
Path("sw_v.yaml").write_text(base.replace("goal: maximize", "goal: minimize"))
probe("SW8", "goal left out, then written as its default minimize", lambda: _check_same_sweep(st2, read_sweep("sw_v.yaml"), W))
st3 = optuna.create_study(direction="maximize")
probe("SW9", "a study from before the record (no attr) continues and records", lambda: (_check_same_sweep(st3, read_sweep("sw_base.yaml"), W), "sweep" in st3.user_attrs))

# ---- WB: W&B names (K6)
from nasiam.config import check_wandb_name  # noqa: E402

for i, n in enumerate(["my-proj_1", "Proj.v2", "projét-ü", "项目", "proj 1", "a" * 128, "my.team", "team-1.2", "😀proj", "a;b", "a,b", "a@b", "a=b", "a&b", "a*b", "a<b>", "'q'"]):
    probe(f"WB{i + 1}", f"name {n[:30]!r}", lambda n=n: check_wandb_name("--wandb_project", n))

# ---- FW: frameworks' forward (K11)
from nasiam.backbones import create_backbone  # noqa: E402
from nasiam.frameworks import framework_class  # noqa: E402

for fw in ["simsiam", "simclr", "mocov2", "mocov3"]:
    try:
        cls = framework_class(fw)
        bb = create_backbone("resnet10t", in_chans=3)
        model = cls(bb, bb.num_features)
    except Exception as e:  # noqa: BLE001
        print(f"FW-{fw} build: {type(e).__name__}: {str(e)[:300]}")
        continue
    model.train()
    v = [torch.randn(4, 3, 16, 16) for _ in range(4)]
    probe(f"FW1-{fw}", "tuple of 2 views", lambda: sorted(model(tuple(v[:2])))[:3])
    probe(f"FW2-{fw}", "4 views (multi-view)", lambda: float(model(v)["loss"]))
    probe(f"FW3-{fw}", "multi-crop: 2 x 16px + 2 x 8px", lambda: float(model(v[:2] + [torch.randn(4, 3, 8, 8) for _ in range(2)])["loss"]))
    probe(f"FW4-{fw}", "views in float64", lambda: float(model([x.double() for x in v[:2]])["loss"]))
    probe(f"FW5-{fw}", "views in bfloat16", lambda: float(model([x.bfloat16() for x in v[:2]])["loss"]))
    fo = create_backbone("resnet10t", features_only=True)
    probe(f"FW7-{fw}", "a features_only backbone (create_backbone accepted it)", lambda: float(cls(fo, 512)(v[:2])["loss"]))
    probe(f"FW6-{fw}", "list of 2 views, one a generator-made list (list(gen))", lambda: float(model(list(x for x in v[:2]))["loss"]))

# ---- BB: create_backbone kwargs (K13)
for i, kw in enumerate([{"drop_rate": 0.1}, {"drop_path_rate": 0.1}, {"features_only": True}, {"global_pool": "avg"},
                        {"in_chans": 1}, {"in_chans": np.int64(3)}, {"in_chans": torch.tensor(3)}]):
    probe(f"BB{i + 1}", f"create_backbone('resnet10t', **{kw})", lambda kw=kw: type(create_backbone("resnet10t", **kw)).__name__)

# ---- TG: top_genotypes near its bound (K5)
import inspect  # noqa: E402

from nasiam.head.searchable import MAX_TOP_GENOTYPES, SearchableHead  # noqa: E402

print("   SearchableHead signature", inspect.signature(SearchableHead))
for k in [MAX_TOP_GENOTYPES, MAX_TOP_GENOTYPES + 1, 10**9]:
    h = SearchableHead(512, 128, num_layers=2)
    probe(f"TG-{k}", f"2-layer head top_genotypes({k:,}) (ranks few: returns all)", lambda h=h, k=k: len(h.top_genotypes(k)))
h4 = SearchableHead(512, 128, num_layers=4)
import time  # noqa: E402

t = time.time()
probe("TG4", "4-layer head top_genotypes(MAX)", lambda: len(h4.top_genotypes(MAX_TOP_GENOTYPES)))
print(f"   TG4 took {time.time() - t:.1f} s")
probe("TG5", "4-layer head top_genotypes(MAX+1)", lambda: len(h4.top_genotypes(MAX_TOP_GENOTYPES + 1)))
