"""Image folders for the seventh probe of issue #33: python probe7_images.py ROOT KIND.

Every folder is train/{a,b} x 8 + val/{a,b} x 4 small PNGs, with one hostile change (KIND)."""
import os
import struct
import sys
import unicodedata
import zlib

import numpy as np
from PIL import Image


def base(root, classes=("a", "b"), val_classes=None):
    rng = np.random.default_rng(0)
    for split, n, names in (("train", 8, classes), ("val", 4, val_classes or classes)):
        for c in names:
            d = os.path.join(root, split, c)
            os.makedirs(d, exist_ok=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(f"{d}/{i}.png")


def png_with_chunk(path, ctype, data):
    """A valid 16x16 PNG with one extra ancillary chunk before IDAT."""
    Image.new("RGB", (16, 16)).save(path)
    raw = open(path, "rb").read()
    chunk = struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data) & 0xFFFFFFFF)
    i = raw.index(b"IDAT") - 4
    open(path, "wb").write(raw[:i] + chunk + raw[i:])


root, kind = sys.argv[1], sys.argv[2]
if kind == "base":
    base(root)
elif kind == "nfd":  # train class 'é' in NFC, val class in NFD: the same name on screen
    base(root, classes=("a", unicodedata.normalize("NFC", "é")), val_classes=("a", unicodedata.normalize("NFD", "é")))
elif kind == "escclass":  # a class folder whose name holds ESC [2J and a BEL
    base(root, classes=("a", "b\x1b[2J\x07"))
elif kind == "ztxt":  # a zTXt chunk that inflates to 64 MiB (PIL's text limit is 1 MiB)
    base(root)
    png_with_chunk(f"{root}/train/a/0.png", b"zTXt", b"k\x00\x00" + zlib.compress(b"\x00" * (64 << 20), 9))
elif kind == "iccp":  # an iCCP chunk that inflates to 64 MiB
    base(root)
    png_with_chunk(f"{root}/train/a/0.png", b"iCCP", b"icc\x00\x00" + zlib.compress(b"\x00" * (64 << 20), 9))
elif kind == "thin":  # a 1 x 20000 image (an aspect ratio RandomResizedCrop cannot keep)
    base(root)
    Image.new("RGB", (20000, 1), (200, 10, 10)).save(f"{root}/train/a/0.png")
elif kind == "float":  # a 32-bit float TIFF (mode F) and a 32-bit int TIFF (mode I)
    base(root)
    Image.fromarray(np.full((16, 16), 1e30, dtype=np.float32), mode="F").save(f"{root}/train/a/f.tif")
    Image.fromarray(np.full((16, 16), 2**31 - 1, dtype=np.int32), mode="I").save(f"{root}/train/a/i.tif")
elif kind == "jpegbomb":  # a JPEG header claiming 60000 x 60000 pixels (3.6 G; PIL refuses > 2 x 89 M at open)
    base(root)
    from io import BytesIO
    b = BytesIO()
    Image.new("RGB", (8, 8)).save(b, "JPEG")
    raw = bytearray(b.getvalue())
    i = raw.index(b"\xff\xc0") + 5
    raw[i:i + 4] = struct.pack(">HH", 60000, 60000)
    open(f"{root}/train/b/0.png", "wb").write(raw)
elif kind == "badutf8":  # a file name that is not UTF-8 (bytes 0xff 0xfe)
    base(root)
    os.rename(f"{root}/train/a/0.png".encode(), os.path.join(root.encode(), b"train/a/\xff\xfe.png"))
elif kind == "outlink":  # an image that is a link to a file outside the data root (a non-image)
    base(root)
    os.remove(f"{root}/train/a/0.png")
    os.symlink("/etc/hostname", f"{root}/train/a/0.png")
elif kind == "manyframes":  # an animated GIF of 2000 frames of 512 x 512
    base(root)
    frames = [Image.new("P", (512, 512), i % 256) for i in range(2000)]
    frames[0].save(f"{root}/train/a/anim.gif", save_all=True, append_images=frames[1:])
else:
    raise SystemExit(f"unknown kind {kind}")
