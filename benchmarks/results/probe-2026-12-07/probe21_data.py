# ruff: noqa
"""Probe 21 (#33): the dataset readers with hostile files, in process (create_dataset).
usage: python probe21_data.py OUTDIR   -- writes the hostile data roots under OUTDIR and reads each."""
import gzip, os, pickle, struct, sys, zlib
from pathlib import Path
import numpy as np
from nasiam.data.datasets import create_dataset

out = Path(sys.argv[1])

def idx(path, arr, code=0x08, dims=None, raw=None, gz=True):
    dims = arr.shape if dims is None else dims
    head = bytes([0, 0, code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)
    body = head + (arr.astype({0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]).tobytes() if raw is None else raw)
    path.parent.mkdir(parents=True, exist_ok=True)
    (gzip.open if gz else open)(str(path) + (".gz" if gz else ""), "wb").write(body)

def fmnist(name, n=40, labels=None, images=None, icode=0x08, lcode=0x08, tn=None):
    root = out / name
    rng = np.random.default_rng(0)
    for pre, k in (("train", n), ("t10k", tn or n)):
        im = images if images is not None else rng.integers(0, 255, (k, 28, 28))
        lb = labels if labels is not None else np.arange(k) % 10
        idx(root / f"{pre}-images-idx3-ubyte", im, icode)
        idx(root / f"{pre}-labels-idx1-ubyte", lb, lcode)
    return root

def cifar(name, batches, test=None):
    base = out / name / "cifar-10-batches-py"
    base.mkdir(parents=True, exist_ok=True)
    for i, b in enumerate(batches, 1):
        pickle.dump(b, open(base / f"data_batch_{i}", "wb"))
    pickle.dump(test if test is not None else batches[0], open(base / "test_batch", "wb"))
    return out / name

def good_batch(n=20, off=0):
    return {"data": np.random.default_rng(off).integers(0, 255, (n, 3072), dtype=np.uint8), "labels": [(i + off) % 10 for i in range(n)]}

def tryread(label, name, root, split="train"):
    try:
        d = create_dataset(name, root, split)
        t = np.asarray(getattr(d, "targets", []))
        img = d.images if hasattr(d, "images") else None
        print(f"{label}: READ len={len(d)} targets[min,max]=({t.min() if t.size else None},{t.max() if t.size else None})"
              f" classes={len(d.classes)} dtype={getattr(img, 'dtype', None)} shape={getattr(img, 'shape', None)}"
              f" pix[min,max]=({img.min() if img is not None and img.size else None},{img.max() if img is not None and img.size else None})")
        return d
    except BaseException as e:
        print(f"{label}: {type(e).__module__}.{type(e).__name__}: {str(e)[:300]}")

# ---- Fashion-MNIST
tryread("F0 sound", "fashion_mnist", fmnist("f0"))
tryread("F1 labels 0..12", "fashion_mnist", fmnist("f1", labels=np.arange(40) % 13))
tryread("F2 images int16 (0x0B)", "fashion_mnist", fmnist("f2", images=np.random.default_rng(0).integers(0, 255, (40, 28, 28)), icode=0x0B))
tryread("F2b images float32 (0x0D) in 0..1", "fashion_mnist", fmnist("f2b", images=np.random.default_rng(0).random((40, 28, 28)), icode=0x0D))
tryread("F3 images (40,1,784)", "fashion_mnist", fmnist("f3", images=np.zeros((40, 1, 784))))
tryread("F3b images (40,2,2)", "fashion_mnist", fmnist("f3b", images=np.zeros((40, 2, 2))))
r = fmnist("f4"); idx(r / "train-labels-idx1-ubyte", np.arange(39) % 10)
tryread("F4 39 labels for 40 images", "fashion_mnist", r)
r = fmnist("f5"); p = r / "train-images-idx3-ubyte.gz"; b = bytearray(p.read_bytes()); b[len(b) // 2] ^= 0xFF; b[len(b) // 2 + 1] ^= 0x55; p.write_bytes(bytes(b))
tryread("F5 gzip with flipped bytes mid-stream", "fashion_mnist", r)
r = fmnist("f5b"); p = r / "train-images-idx3-ubyte.gz"; p.write_bytes(p.read_bytes()[:-6])
tryread("F5b gzip cut (no CRC)", "fashion_mnist", r)
r = fmnist("f5c"); p = r / "train-images-idx3-ubyte.gz"; p.write_bytes(p.read_bytes() + b"garbage!")
tryread("F5c gzip + trailing garbage", "fashion_mnist", r)
r = fmnist("f5d"); p = r / "train-images-idx3-ubyte.gz"; raw = gzip.decompress(p.read_bytes()); p.write_bytes(b"\x1f\x8b\x08\x00" + b"\x00" * 6 + zlib.compress(raw)[2:])
tryread("F5d gzip header + raw zlib garbage", "fashion_mnist", r)
tryread("F6 zero images", "fashion_mnist", fmnist("f6", n=0, images=np.zeros((0, 28, 28)), labels=np.zeros(0)))
tryread("F7 float64 labels 1.5", "fashion_mnist", fmnist("f7", labels=np.full(40, 1.5), lcode=0x0E))
tryread("F7b int32 labels -1", "fashion_mnist", fmnist("f7b", labels=np.full(40, -1), lcode=0x0C))
tryread("F7c int32 labels 2**31-1", "fashion_mnist", fmnist("f7c", labels=np.full(40, 2**31 - 1), lcode=0x0C))
r = fmnist("f8"); (r / "train-images-idx3-ubyte.gz").unlink(); (r / "train-images-idx3-ubyte.gz").mkdir()
tryread("F8 images .gz a folder", "fashion_mnist", r)
r = fmnist("f9"); idx(r / "train-images-idx3-ubyte", None, dims=(60000, 28, 28), raw=b"\0" * 100)
tryread("F9 header 60000x28x28, 100 bytes", "fashion_mnist", r)
r = fmnist("f10"); idx(r / "train-images-idx3-ubyte", None, dims=(2**32 - 1, 2**32 - 1, 2**32 - 1), raw=b"")
tryread("F10 header 3x(2^32-1)", "fashion_mnist", r)
r = fmnist("f11"); os.unlink(r / "train-images-idx3-ubyte.gz"); os.mkfifo(r / "train-images-idx3-ubyte.gz")
tryread("F11 images a FIFO (no other)", "fashion_mnist", r)
r = fmnist("f12"); os.chmod(r / "train-images-idx3-ubyte.gz", 0)
tryread("F12 images mode 000 (root reads anyway)", "fashion_mnist", r)
# ---- CIFAR-10
tryread("C0 sound", "cifar10", cifar("c0", [good_batch(20, i) for i in range(5)]))
bs = [good_batch(20, i) for i in range(5)]; bs[0]["labels"].append(3); bs[1]["labels"].pop()
tryread("C1 batch1 21 labels, batch2 19 (totals match)", "cifar10", cifar("c1", bs))
bs = [good_batch(20, i) for i in range(5)]; bs[2]["labels"][0] = 10; bs[2]["labels"][1] = 255
tryread("C2 labels 10 and 255", "cifar10", cifar("c2", bs))
bs = [good_batch(20, i) for i in range(5)]; bs[2]["labels"][0] = -1
tryread("C3 label -1", "cifar10", cifar("c3", bs))
bs = [good_batch(20, i) for i in range(5)]; bs[2]["labels"][0] = "cat"
tryread("C4 label 'cat'", "cifar10", cifar("c4", bs))
bs = [good_batch(20, i) for i in range(5)]; bs[2]["labels"][0] = 2.7
tryread("C5 label 2.7", "cifar10", cifar("c5", bs))
bs = [good_batch(20, i) for i in range(5)]; bs[2]["data"] = bs[2]["data"] / 255.0
tryread("C6 data float 0..1", "cifar10", cifar("c6", bs))
bs = [good_batch(20, i) for i in range(5)]; bs[2]["data"] = bs[2]["data"].astype(np.int64) * 3
tryread("C7 data int64 0..762", "cifar10", cifar("c7", bs))
bs = [good_batch(20, i) for i in range(5)]; bs[2]["data"] = [["x"] * 3072] * 20
tryread("C8 data strings", "cifar10", cifar("c8", bs))
bs = [good_batch(20, i) for i in range(5)]; bs[2]["labels"] = [[1, 2]] * 20
tryread("C9 labels 2-D", "cifar10", cifar("c9", bs))
bs = [good_batch(20, i) for i in range(5)]; bs[2]["labels"] = 7
tryread("C10 labels a scalar", "cifar10", cifar("c10", bs))
bs = [good_batch(20, i) for i in range(5)]; bs[2]["data"] = None
tryread("C11 data None", "cifar10", cifar("c11", bs))
bs = [good_batch(20, i) for i in range(5)]; bs[2]["data"] = {"a": 1}
tryread("C12 data a dict", "cifar10", cifar("c12", bs))
r = cifar("c13", [good_batch(20, i) for i in range(5)]); deep = b"\x80\x02" + b"(" * 200000 + b"]" + b"t" * 0 + b"."
(r / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"\x80\x02" + b"]" * 1 + b"(]" * 100000 + b"e" * 100000 + b".")
tryread("C13 a 100,000-deep nested list", "cifar10", r)
r = cifar("c14", [good_batch(20, i) for i in range(5)])
(r / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"\x80\x04\x8e" + struct.pack("<Q", 2**62) + b"x")
tryread("C14 BINBYTES8 claiming 2^62 bytes", "cifar10", r)
r = cifar("c15", [good_batch(20, i) for i in range(5)])
(r / "cifar-10-batches-py" / "data_batch_3").write_bytes(pickle.dumps({"data": np.zeros((20, 3072), np.uint8), "labels": np.array([object()] * 0 + list(range(20)), dtype=object)}))
tryread("C15 labels an object array", "cifar10", r)
r = cifar("c16", [good_batch(20, i) for i in range(5)])
(r / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"cos\nsystem\n(S'touch /tmp/h63/PWNED'\ntR.")
tryread("C16 os.system pickle", "cifar10", r); print("   PWNED exists:", os.path.exists("/tmp/h63/PWNED"))
r = cifar("c17", [good_batch(20, i) for i in range(5)])
(r / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"")
tryread("C17 empty batch file", "cifar10", r)
r = cifar("c18", [good_batch(20, i) for i in range(5)])
(r / "cifar-10-batches-py" / "data_batch_3").write_bytes(pickle.dumps({"data": np.zeros((20, 3072), np.uint8), "labels": list(range(20))}, protocol=5, buffer_callback=lambda b: False))
tryread("C18 protocol-5 out-of-band buffer (none given)", "cifar10", r)
r = cifar("c19", [good_batch(20, i) for i in range(5)])
(r / "cifar-10-batches-py" / "data_batch_3").write_bytes(pickle.dumps({"data": np.zeros((20, 3072), dtype=[("a", "u1")]), "labels": list(range(20))}))
tryread("C19 structured dtype data", "cifar10", r)
r = cifar("c20", [good_batch(20, i) for i in range(5)])
(r / "cifar-10-batches-py" / "data_batch_3").write_bytes(pickle.dumps({"data": np.zeros((20, 3072), np.uint8), "labels": list(range(20)), "extra": {"__reduce__": 1}}) )
tryread("C20 extra keys", "cifar10", r)
bs = [good_batch(20, i) for i in range(5)]
r = cifar("c21", bs, test={"data": np.zeros((0, 3072), np.uint8), "labels": []})
tryread("C21 empty test batch", "cifar10", r, "test")
bs = [good_batch(20, i) for i in range(5)]; bs[0]["data"] = np.zeros((20, 3072), np.uint8)[::1, ::-1]
tryread("C22 non-contiguous data", "cifar10", cifar("c22", bs))
# ---- STL-10
def stl(name, parts):
    base = out / name / "stl10_binary"; base.mkdir(parents=True, exist_ok=True)
    for fname, content in parts.items():
        if content is None: continue
        (base / fname).write_bytes(content)
    return out / name
img = lambda n: np.random.default_rng(0).integers(0, 255, n * 3 * 96 * 96, dtype=np.uint8).tobytes()
lab = lambda n, v=None: bytes([(v if v is not None else (i % 10) + 1) for i in range(n)])
tryread("T0 sound", "stl10", stl("t0", {"train_X.bin": img(4), "train_y.bin": lab(4)}))
tryread("T1 0-byte train_X.bin", "stl10", stl("t1", {"train_X.bin": b"", "train_y.bin": b""}))
tryread("T2 no train_y.bin", "stl10", stl("t2", {"train_X.bin": img(4)}))
r = stl("t3", {"train_X.bin": img(4)}); (r / "stl10_binary" / "train_y.bin").mkdir()
tryread("T3 train_y.bin a folder", "stl10", r)
tryread("T4 X of 1.5 images", "stl10", stl("t4", {"train_X.bin": img(3)[: 3 * 96 * 96 * 3 // 2]}))
tryread("T5 labels 11", "stl10", stl("t5", {"train_X.bin": img(4), "train_y.bin": lab(4, 11)}))
tryread("T6 unlabeled 0 bytes", "stl10", stl("t6", {"train_X.bin": img(4), "train_y.bin": lab(4), "unlabeled_X.bin": b""}), "train+unlabeled")
r = stl("t7", {"train_y.bin": lab(4)}); os.symlink("/dev/zero", r / "stl10_binary" / "train_X.bin")
tryread("T7 train_X.bin -> /dev/zero", "stl10", r)
r = stl("t8", {"train_X.bin": img(4), "train_y.bin": lab(4)}); os.truncate(r / "stl10_binary" / "train_X.bin", 3 * 96 * 96 * 200000)
tryread("T8 sparse X of 200,000 images, 4 labels", "stl10", r)
