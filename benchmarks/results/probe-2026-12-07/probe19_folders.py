# ruff: noqa: E402, E702, E741  (a probe script: compact on purpose)
"""Q/Part B: image folders (`--dataset imagefolder`) built here: val split with other class folders
than train (through `nasiam eval`, which trains nothing), odd class names, a class of one image,
1x1 images; then 10,000 classes through the evaluation's own functions (features made up)."""
import os
import shutil
import time

import numpy as np
from PIL import Image

P = os.environ["PROBE"]; os.chdir(P)
def img(path, size=(20, 20), mode="RGB", seed=0):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    a = (np.random.default_rng(seed).random((size[1], size[0], 3)) * 255).astype("uint8")
    Image.fromarray(a).convert(mode).save(path)
def folder(root, splits):
    shutil.rmtree(root, ignore_errors=True)
    for split, classes in splits.items():
        for c, n in classes.items():
            for i in range(n):
                img(f"{root}/{split}/{c}/{i}.png", size=(1, 1) if i % 3 == 0 else (20, 20), seed=hash((c, i)) % 1000)
folder("if_shift", {"train": {"a": 12, "b": 12, "c": 12}, "val": {"a": 12, "c": 12, "d": 12}})
folder("if_extra", {"train": {"a": 12, "b": 12, "c": 12}, "val": {"a": 12, "b": 12, "c": 12, "d": 12}})
folder("if_fewer", {"train": {"a": 12, "b": 12, "c": 12}, "val": {"a": 12, "c": 12}})
folder("if_names", {s: {"cls\nnew": 6, "\u00fcn\u00ef": 6, " space": 6, "-dash": 6, "one": 1, "\x1b[31mred": 6} for s in ("train", "val")})
print("folders made", flush=True)

# 10,000 classes through evaluate_features (kNN + linear probe), features made up
import torch

from nasiam.eval.protocol import evaluate_features

for classes, n in ((10_000, 64), (10_000, 2_000)):
    g = torch.Generator().manual_seed(0)
    bank, test = torch.randn(n, 512, generator=g), torch.randn(n, 512, generator=g)
    bl, tl = torch.randint(0, classes, (n,), generator=g), torch.randint(0, classes, (n,), generator=g)
    t0 = time.time()
    try:
        ev = evaluate_features(bank, bl, test, tl, num_classes=classes, linear=True, seed=0, verbose=False)
        print(f"evaluate_features {classes} classes, {n} images: {time.time()-t0:.1f}s", {k: round(v, 2) for k, v in ev.metrics.items()})
    except BaseException as e:
        print(f"evaluate_features {classes} classes, {n} images: {type(e).__name__}: {str(e)[:200]} after {time.time()-t0:.1f}s")
