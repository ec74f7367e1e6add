# ruff: noqa
"""Probe 21 (#33): more hostile data roots (label -1 in a test split; CIFAR train batches whose
label counts differ per batch but not in total, with a sound test batch). usage: python probe21_data2.py OUTDIR"""
import gzip, pickle, struct, sys
from pathlib import Path
import numpy as np

out = Path(sys.argv[1])
def idx(path, arr, code=0x08):
    head = bytes([0, 0, code, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    gzip.open(str(path) + ".gz", "wb").write(head + arr.astype({0x08: "u1", 0x0C: ">i4"}[code]).tobytes())
rng = np.random.default_rng(0)
for name, test_labels in (("g1", np.where(np.arange(40) % 2 == 0, -1, np.arange(40) % 10)), ("g2", np.full(40, -1))):
    r = out / name
    idx(r / "train-images-idx3-ubyte", rng.integers(0, 255, (40, 28, 28))); idx(r / "train-labels-idx1-ubyte", np.arange(40) % 10)
    idx(r / "t10k-images-idx3-ubyte", rng.integers(0, 255, (40, 28, 28))); idx(r / "t10k-labels-idx1-ubyte", test_labels, 0x0C)
# C1b: batch1 has 21 labels, batch2 19: each image after batch1's 20th gets its neighbour's label
base = out / "c1b" / "cifar-10-batches-py"; base.mkdir(parents=True, exist_ok=True)
for i in range(1, 6):
    b = {"data": rng.integers(0, 255, (20, 3072), dtype=np.uint8), "labels": [(j + i) % 10 for j in range(20)]}
    if i == 1: b["labels"].append(0)
    if i == 2: b["labels"].pop(0)
    pickle.dump(b, open(base / f"data_batch_{i}", "wb"))
pickle.dump({"data": rng.integers(0, 255, (20, 3072), dtype=np.uint8), "labels": [j % 10 for j in range(20)]}, open(base / "test_batch", "wb"))
from nasiam.data.datasets import create_dataset
d = create_dataset("cifar10", out / "c1b", "train")
print("C1b train read: len", len(d), "labels 20..25:", d.targets[20:26].tolist(), "(batch 2 as written: 3,4,5,6,7,8 for images 0..5; its first label was dropped)")
