"""Probe 22 (#33): BatchedViews/shard_batches checks (S16's fix): every valid recipe still accepted; neighbours."""
import dataclasses
import itertools
import warnings

import torch

from nasiam.data.batched_augment import BatchedViews
from nasiam.data.datasets import _INFO, dataset_info
from nasiam.data.device import shard_batches
from nasiam.data.transforms import RECIPES, augment_recipe

warnings.simplefilter("ignore")

ok = bad = 0
for method, ds in itertools.product(list(RECIPES) + ["simsiam", "mocov3", "simclr", "mocov2"], list(_INFO)):
    info = dataset_info(ds)
    for size in (16, 32, 96, 224):
        try:
            r = augment_recipe(method, info, size)
            v = BatchedViews(r)
            x = torch.randint(0, 256, (2, info.channels, 24, 24), dtype=torch.uint8)
            y = v(x)
            assert torch.isfinite(y).all() and y.shape == (2, info.channels, size, size)
            ok += 1
        except Exception as e:
            bad += 1
            print(f"[{method} {ds} {size}] {type(e).__name__}: {e}"[:300])
print(f"valid recipes: {ok} accepted and finite, {bad} refused or failed")
def show(label, fn):
    try:
        print(f"[{label}] OK -> {fn()!r}"[:300])
    except Exception as e:
        print(f"[{label}] {type(e).__name__}: {e}"[:300])
base = augment_recipe("simclr", dataset_info("cifar10"), 16)
for label, kw in (("scale (0,0)", {"scale": (0.0, 0.0)}), ("scale (1, 0.2)", {"scale": (1.0, 0.2)}),
                  ("scale (0.2, 5)", {"scale": (0.2, 5.0)}), ("ratio (0, 0)", {"ratio": (0.0, 0.0)}),
                  ("jitter negative", {"jitter": (-1.0, 0.4, 0.4, 0.1)}), ("hue 0.9", {"jitter": (0.4, 0.4, 0.4, 0.9)}),
                  ("mean nan", {"mean": (float("nan"),) * 3}), ("size 1.5", {"size": 1.5}), ("size True", {"size": True}),
                  ("blur_p 0.5 sigma (0,0)", {"blur_p": 0.5, "blur_sigma": (0.0, 0.0)}), ("jitter_p nan", {"jitter_p": float("nan")})):
    def f(kw=kw):
        y = BatchedViews(dataclasses.replace(base, **kw))(torch.randint(0, 256, (4, 3, 24, 24), dtype=torch.uint8))
        return f"views {tuple(y.shape)}, finite={bool(torch.isfinite(y).all())}"
    show(f"recipe {label}", f)
for label, args in (("n 10 bs 3", (10, 3, 0)), ("world_size 0", (10, 3, 0, 0, 0)), ("n -5", (-5, 3, 0)),
                    ("bs True", (10, True, 0)), ("seed -1", (10, 3, -1)), ("seed 2**64-1", (10, 3, 2**64 - 1)),
                    ("seed 1.5", (10, 3, 1.5)), ("bs 2.5", (10, 2.5, 0))):
    show(f"shard_batches {label}", lambda a=args: [b.tolist() for b in shard_batches(*a)][:3])
