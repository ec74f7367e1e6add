# ruff: noqa: E401, E402, E701, E702, E731  (probe scripts: short setups on one line; imports beside the probes that use them)
"""Fourteenth probe of #33 (h49): permissions, as root without permission overrides (run under
`setpriv --bounding-set=-dac_override,-dac_read_search,-fowner`: the user nobody cannot reach this Python).
Usage: python probe14_user.py WORKDIR (a folder that user may write)"""
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

W = Path(sys.argv[1]); W.mkdir(exist_ok=True); os.chdir(W)
print("uid", os.getuid())


def probe(pid, fn):
    t = time.perf_counter()
    try:
        out = fn(); print(f"{pid}: OK {out!r}"[:400], f"({time.perf_counter()-t:.2f}s)")
    except BaseException as e:
        print(f"{pid}: {type(e).__name__}: {str(e)[:400]!r}", f"({time.perf_counter()-t:.2f}s)")


def folder(name):
    for split in ("train", "val"):
        for c in ("a", "b"):
            d = Path(name, split, c); d.mkdir(parents=True, exist_ok=True)
            for i in range(4):
                Image.fromarray(np.full((8, 8, 3), 60 * i, np.uint8)).save(d / f"{i}.png")
    return name


from nasiam.data.datasets import create_dataset

folder("u1"); os.chmod("u1/train/a/0.png", 0)
probe("U1-unreadable-image-in-dataset", lambda: (lambda d: [d[i][1] for i in range(len(d))])(create_dataset("imagefolder", "u1", "train")))
folder("u2"); os.chmod("u2/train/b", 0)
probe("U2-unreadable-class-folder", lambda: len(create_dataset("imagefolder", "u2", "train")))
folder("u3"); os.chmod("u3/train/b", 0o311)
probe("U3-class-folder-not-listable-but-enterable", lambda: len(create_dataset("imagefolder", "u3", "train")))
folder("u4"); os.chmod("u4/train", 0o311)
probe("U4-train-folder-not-listable", lambda: len(create_dataset("imagefolder", "u4", "train")))
from nasiam import Genotype, NASHead, SearchableHead

h = NASHead.from_genotype(SearchableHead(16, 8).genotype(), 16)
os.makedirs("ro"); os.chmod("ro", 0o555)
probe("U5-save_pretrained-read-only-folder", lambda: h.save_pretrained("ro/head"))
h.save_pretrained("rh"); os.chmod("rh/head.safetensors", 0)
probe("U6-from_pretrained-unreadable-weights", lambda: NASHead.from_pretrained("rh"))
h.save_pretrained("rg"); os.chmod("rg/genotype.json", 0)
probe("U7-from_pretrained-unreadable-genotype", lambda: NASHead.from_pretrained("rg"))
probe("U8-Genotype.load-unreadable", lambda: Genotype.load("rg/genotype.json"))
h.save_pretrained("rw"); os.chmod("rw", 0o555)
probe("U9-save_pretrained-over-own-head-in-read-only-folder", lambda: h.save_pretrained("rw"))
probe("U9b-listing", lambda: sorted(os.listdir("rw")))
