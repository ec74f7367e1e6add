"""Probe 22 (#33), data readers in process: the twenty-first session's data fixes and their neighbours."""
import gzip
import os
import pickle
import struct
import tempfile
import warnings
from pathlib import Path

import numpy as np

from nasiam.data.datasets import create_dataset, dataset_info
from nasiam.runner.build import check_eval_splits

warnings.simplefilter("ignore")

tmp = Path(tempfile.mkdtemp(dir=os.environ["PROBE_DIR"]))

def show(label, fn):
    try:
        r = fn()
        print(f"[{label}] OK -> {r!r}"[:300])
    except Exception as e:
        print(f"[{label}] {type(e).__name__}: {e}"[:500])

def both(name, root):
    tr, te = create_dataset(name, root, "train"), create_dataset(name, root, dataset_info(name).eval_split)
    check_eval_splits(name, dataset_info(name), tr, te)
    return (len(tr), len(te), tr[0][1] if len(tr) else None)

show("debian fashion-mnist", lambda: both("fashion_mnist", "/usr/share/datasets/fashion-mnist"))

def idx(path, type_code, shape, data, gz=False):
    head = bytes([0, 0, type_code, len(shape)]) + b"".join(struct.pack(">I", d) for d in shape)
    (gzip.open if gz else open)(path, "wb").write(head + data)

def fm(label, images=None, labels=None):
    root = tmp / f"fm_{label.replace(' ', '_')}"
    root.mkdir()
    for prefix, n in (("train", 8), ("t10k", 4)):
        img = images(n) if images else (8, (n, 28, 28), bytes(n * 784))
        lab = labels(n) if labels else (8, (n,), bytes(range(n)))
        idx(root / f"{prefix}-images-idx3-ubyte", img[0], img[1], img[2])
        idx(root / f"{prefix}-labels-idx1-ubyte", lab[0], lab[1], lab[2])
    show(f"fashion-mnist {label}", lambda: both("fashion_mnist", root))

fm("valid")
fm("labels ndim 0", labels=lambda n: (8, (), bytes([3])))
fm("labels (N,1)", labels=lambda n: (8, (n, 1), bytes(range(n))))
fm("images 0 items", images=lambda n: (8, (0, 28, 28), b""), labels=lambda n: (8, (0,), b""))
fm("labels int8", labels=lambda n: (9, (n,), bytes(range(n))))
fm("labels 10", labels=lambda n: (8, (n,), bytes([10] * n)))
fm("type 0x0A", labels=lambda n: (10, (n,), bytes(range(n))))

def cifar(label, name, batch_fn):
    root = tmp / f"c_{label.replace(' ', '_')}"
    folder, files = (("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"])
                     if name == "cifar10" else ("cifar-100-python", ["train", "test"]))
    (root / folder).mkdir(parents=True)
    for f in files:
        pickle.dump(batch_fn(f), open(root / folder / f, "wb"))
    show(f"{name} {label}", lambda: both(name, root))

rng = np.random.default_rng(0)
def px(n):
    return rng.integers(0, 256, (n, 3072), dtype=np.uint8)


cifar("valid fine+coarse", "cifar100", lambda f: {"data": px(4), "fine_labels": [1, 2, 3, 99],
                                                  "coarse_labels": [0, 1, 2, 19], "filenames": ["a"] * 4,
                                                  "batch_label": "x"})
cifar("valid bytes keys", "cifar10", lambda f: {b"data": px(4), b"labels": [0, 1, 2, 9]})
cifar("valid", "cifar10", lambda f: {"data": px(4), "labels": [0, 1, 2, 9], "batch_label": "b"})
cifar("labels numpy uint8", "cifar10", lambda f: {"data": px(4), "labels": np.array([0, 1, 2, 9], np.uint8)})
cifar("labels -1 in test", "cifar10", lambda f: {"data": px(4), "labels": [0, 1, 2, -1 if f == "test_batch" else 3]})
cifar("labels floats 1.0", "cifar10", lambda f: {"data": px(4), "labels": [0.0, 1.0, 2.0, 3.0]})
cifar("labels numpy int64 column", "cifar10", lambda f: {"data": px(4), "labels": np.array([[0], [1], [2], [3]])})
cifar("data Fortran order", "cifar10", lambda f: {"data": np.asfortranarray(px(4)), "labels": [0, 1, 2, 3]})
cifar("data non-contiguous view", "cifar10", lambda f: {"data": px(8)[::2], "labels": [0, 1, 2, 3]})

def stl(label, parts, split="train"):
    root = tmp / f"s_{label.replace(' ', '_')}"
    b = root / "stl10_binary"
    b.mkdir(parents=True)
    for name, content in parts.items():
        (b / name).write_bytes(content)
    show(f"stl10 {label} ({split})", lambda: (len(create_dataset("stl10", root, split)),))
    return root

def img(n):
    return bytes(n * 3 * 96 * 96)


ok = {"train_X.bin": img(4), "train_y.bin": bytes([1, 2, 3, 10]), "test_X.bin": img(2), "test_y.bin": bytes([1, 2]),
      "unlabeled_X.bin": img(3)}
r = stl("valid", ok, "train+unlabeled")
show("stl10 valid eval splits", lambda: both("stl10", r))
stl("unlabeled_y.bin a folder", {**ok}, "train+unlabeled")
stl("unlabeled_X empty", {**ok, "unlabeled_X.bin": b""}, "train+unlabeled")
stl("train_y 0 label", {**ok, "train_y.bin": bytes([0, 2, 3, 10])})
print("STL10_ROOT", r)
