"""Image folders for the tenth probe of issue #33: python probe10_images.py ROOT KIND.

Every folder is train/{a,b} x 8 + val/{a,b} x 4 small PNGs, with one hostile change (KIND)
none of the earlier probes made (probe7_images.py has theirs)."""
import os
import struct
import sys
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


def chunk(ctype, data):
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data) & 0xFFFFFFFF)


def raw_png(path, width, height, bit_depth, color_type, rows):
    """A PNG written by hand (PIL does not write 48-bit RGB or 64-bit RGBA)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    data = zlib.compress(b"".join(b"\x00" + r for r in rows))
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data) + chunk(b"IEND", b""))


root, kind = sys.argv[1], sys.argv[2]
if kind == "onecls":  # one class only, in train and val (a linear probe needs two)
    base(root, classes=("a",))
elif kind == "loopfile":  # an image that is a link to itself
    base(root)
    os.symlink("loop.png", f"{root}/train/a/loop.png")
elif kind == "modes2":  # 48-bit RGB and 64-bit RGBA PNGs, mode-1 PNG, I;16 TIFF, multipage TIFF, animated WebP, ICO, PPM, TGA
    base(root)
    d = f"{root}/train/a"
    raw_png(f"{d}/rgb48.png", 16, 16, 16, 2, [bytes(range(96))] * 16)
    raw_png(f"{d}/rgba64.png", 16, 16, 16, 6, [bytes(128)] * 16)
    raw_png(f"{d}/grey1.png", 16, 16, 1, 0, [b"\xaa\x55"] * 16)
    Image.new("1", (16, 16), 1).save(f"{d}/bilevel.png")
    Image.fromarray(np.full((16, 16), 65535, dtype=np.uint16)).save(f"{d}/i16.tif")
    pages = [Image.new("RGB", (16, 16), (i * 40, 0, 0)) for i in range(3)]
    pages[0].save(f"{d}/multi.tif", save_all=True, append_images=pages[1:])
    pages[0].save(f"{d}/anim.webp", save_all=True, append_images=pages[1:])
    Image.new("RGBA", (16, 16), (0, 0, 0, 0)).save(f"{d}/icon.ico")
    Image.new("RGB", (16, 16)).save(f"{d}/pix.ppm")
    Image.new("RGB", (16, 16)).save(f"{d}/pix.tga")
elif kind == "pnghuge":  # a 40-byte-data PNG whose header says 7000 x 7000 (49 MP: under PIL's bomb limit, over nasiam's 33.5 MP)
    base(root)
    raw_png(f"{root}/train/b/huge.png", 7000, 7000, 8, 0, [bytes(1)])  # data far shorter than the header says
elif kind == "pngwide":  # a header of 2^31-1 x 1 (PIL's limit on a side?) in 60 bytes
    base(root)
    raw_png(f"{root}/train/b/wide.png", 2**31 - 1, 1, 8, 0, [bytes(1)])
elif kind == "badutf8cls":  # a class folder whose name is not UTF-8 (train and val)
    base(root)
    for split in ("train", "val"):
        os.rename(f"{root}/{split}/b".encode(), os.path.join(root.encode(), split.encode(), b"\xff\xfeb"))
elif kind == "nlcls":  # a class folder name holding a newline and a tab
    base(root, classes=("a", "b\nc\td"))
elif kind == "ipynb":  # Jupyter's hidden folder, empty, in train/ only
    base(root)
    os.makedirs(f"{root}/train/.ipynb_checkpoints")
elif kind == "dirpng":  # a folder named x.png holding images, inside a class
    base(root)
    os.makedirs(f"{root}/train/a/x.png")
    Image.new("RGB", (16, 16)).save(f"{root}/train/a/x.png/in.png")
elif kind == "trainlink":  # train/ itself a link to a folder outside the data root; val/ a link loop to itself
    base(root)
    os.rename(f"{root}/val", f"{root}/../{os.path.basename(root)}-val")
    os.symlink("val", f"{root}/val")
elif kind == "lowlink":  # class a of val a link to class a of train (the test images are the training ones)
    base(root)
    import shutil
    shutil.rmtree(f"{root}/val/a")
    os.symlink("../train/a", f"{root}/val/a")
elif kind == "zeroimg":  # a PNG whose IHDR says 0 x 0
    base(root)
    raw_png(f"{root}/train/a/zero.png", 0, 0, 8, 0, [])
else:
    raise SystemExit(f"unknown kind {kind}")
