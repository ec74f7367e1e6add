# ruff: noqa: E401, E402, E701, E702, E731  (probe scripts: short setups on one line; imports beside the probes that use them)
"""Fourteenth probe of #33 (h49): image files of every mode through the image-folder loader
(`nasiam.data.datasets._load_image`, what `--dataset imagefolder` reads each file with) and
`create_dataset('imagefolder', ...)` on odd folders. Usage: python probe14_images.py WORKDIR"""
import os
import struct
import sys
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

W = Path(sys.argv[1]); W.mkdir(exist_ok=True); os.chdir(W)


def probe(pid, fn):
    t = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = fn(); print(f"{pid}: OK {out!r}"[:500], f"({time.perf_counter()-t:.2f}s)")
        except BaseException as e:
            print(f"{pid}: {type(e).__name__}: {str(e)[:400]!r}", f"({time.perf_counter()-t:.2f}s)")
    for w in caught[:2]:
        print(f"   warning: {w.category.__name__}: {str(w.message)[:200]}")


from nasiam.data.datasets import _load_image, create_dataset

os.makedirs("img", exist_ok=True)
grad8 = np.tile(np.arange(0, 256, 16, dtype=np.uint8), (16, 1))               # 0..240 across
grad16 = (grad8.astype(np.uint16) * 257)                                        # the same picture at 16 bits


def stats(path):
    a = np.asarray(_load_image(path))
    return {"shape": a.shape, "min": int(a.min()), "max": int(a.max()), "mean": round(float(a.mean()), 1),
            "distinct": int(len(np.unique(a)))}


Image.fromarray(grad8).save("img/l8.png")
probe("IM1-L-8bit-baseline", lambda: stats("img/l8.png"))
Image.fromarray(grad16).save("img/i16.png")
probe("IM2-16bit-gray-png (same picture)", lambda: (Image.open("img/i16.png").mode, stats("img/i16.png")))
Image.fromarray(grad16.astype(np.int32)).save("img/i32.tif")
probe("IM3-32bit-int-tiff-(mode I)", lambda: (Image.open("img/i32.tif").mode, stats("img/i32.tif")))
Image.fromarray(grad8.astype(np.float32) / 255).save("img/f32.tif")
probe("IM4-float-tiff-0..1-(mode F)", lambda: (Image.open("img/f32.tif").mode, stats("img/f32.tif")))
rgb16 = np.stack([grad16] * 3, -1)
# a 48-bit RGB PNG written by hand (PIL cannot write one): IHDR bit depth 16, colour type 2
raw = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in rgb16)
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
open("img/rgb16.png", "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 16, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
probe("IM5-48bit-RGB-png", lambda: (Image.open("img/rgb16.png").mode, stats("img/rgb16.png")))
Image.fromarray(np.stack([grad8] * 4, -1), "CMYK").save("img/cmyk.jpg")
probe("IM6-CMYK-jpeg", lambda: (Image.open("img/cmyk.jpg").mode, stats("img/cmyk.jpg")))
rgba = np.zeros((16, 16, 4), np.uint8); rgba[..., 0] = 255; rgba[..., 3] = 0   # fully transparent red
Image.fromarray(rgba, "RGBA").save("img/rgba.png")
probe("IM7-RGBA-transparent", lambda: stats("img/rgba.png"))
p = Image.fromarray(grad8).convert("P"); p.info["transparency"] = 0; p.save("img/ptrans.png", transparency=0)
probe("IM8-palette-with-transparency", lambda: stats("img/ptrans.png"))
Image.fromarray(grad8).convert("1").save("img/bw.png")
probe("IM9-bilevel", lambda: stats("img/bw.png"))
Image.fromarray(grad8).convert("LA").save("img/la.png")
probe("IM10-LA", lambda: stats("img/la.png"))
Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save("img/one.png")
probe("IM11-1x1", lambda: stats("img/one.png"))
Image.fromarray(np.zeros((1, 5000, 3), np.uint8)).save("img/strip.png")
probe("IM12-1x5000-strip", lambda: stats("img/strip.png"))
frames = [Image.fromarray(np.full((8, 8), v, np.uint8)) for v in (0, 255)]
frames[0].save("img/anim.gif", save_all=True, append_images=frames[1:])
probe("IM13-animated-gif", lambda: stats("img/anim.gif"))
ex = Image.Exif(); ex[274] = 6; Image.fromarray(np.zeros((8, 16), np.uint8)).save("img/exif.jpg", exif=ex)
probe("IM14-exif-rotated-jpeg", lambda: stats("img/exif.jpg")["shape"])
Image.fromarray(np.random.default_rng(0).integers(0, 255, (256, 256, 3), dtype=np.uint8)).save("img/big.png"); b = open("img/big.png", "rb").read(); open("img/trunc.png", "wb").write(b[: len(b) // 2])
probe("IM15-truncated-png", lambda: stats("img/trunc.png"))
b = open("img/cmyk.jpg", "rb").read(); open("img/trunc.jpg", "wb").write(b[: len(b) // 2])
probe("IM16-truncated-jpeg-half", lambda: stats("img/trunc.jpg"))
open("img/empty.png", "wb").close()
probe("IM17-empty-file", lambda: stats("img/empty.png"))
Image.fromarray(grad8).save("img/ycbcr.webp")
probe("IM18-webp", lambda: stats("img/ycbcr.webp"))
Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save("img/lab.tif") ; Image.fromarray(np.zeros((16, 16, 3), np.uint8)).convert("LAB").save("img/lab.tif")
probe("IM20-LAB-tiff", lambda: (Image.open("img/lab.tif").mode, stats("img/lab.tif")))
Image.fromarray(grad16).save("img/i16.tif")
probe("IM21-16bit-gray-tiff", lambda: (Image.open("img/i16.tif").mode, stats("img/i16.tif")))
# folders
def folder(name, classes):
    for split, files in classes.items():
        for cls, imgs in files.items():
            d = Path(name, split, cls); d.mkdir(parents=True, exist_ok=True)
            for i, src in enumerate(imgs):
                (d / f"{i}{Path(src).suffix}").write_bytes(Path(src).read_bytes()) if src else None
    return name
probe("DS1-one-class", lambda: (lambda d: (len(d), d.classes))(create_dataset("imagefolder", folder("ds1", {"train": {"a": ["img/l8.png"] * 3}, "val": {"a": ["img/l8.png"]}}), "train")))
probe("DS2-empty-class-folder", lambda: create_dataset("imagefolder", folder("ds2", {"train": {"a": ["img/l8.png"], "b": []}}), "train"))
probe("DS3-class-with-only-non-images", lambda: (Path("ds3/train/b").mkdir(parents=True), Path("ds3/train/b/readme.txt").write_text("x"), folder("ds3", {"train": {"a": ["img/l8.png"]}}), create_dataset("imagefolder", "ds3", "train"))[-1])
probe("DS4-uppercase-ext-.PNG", lambda: (Path("ds4/train/a").mkdir(parents=True), Path("ds4/train/a/X.PNG").write_bytes(Path("img/l8.png").read_bytes()), len(create_dataset("imagefolder", "ds4", "train")))[-1])
probe("DS5-class-names-odd", lambda: (lambda d: d.classes)(create_dataset("imagefolder", folder("ds5", {"train": {n: ["img/l8.png"] for n in ("a b", "é", "e\u0301x", "\u202ertl", "-", "😀", "x\x1b[2J")}}), "train")))
probe("DS6-image-a-dir-named-x.png-only", lambda: (Path("ds6/train/a/x.png").mkdir(parents=True), create_dataset("imagefolder", "ds6", "train"))[-1])
probe("DS7-hidden-.png-file-only", lambda: (Path("ds7/train/a").mkdir(parents=True), Path("ds7/train/a/.png").write_bytes(Path("img/l8.png").read_bytes()), len(create_dataset("imagefolder", "ds7", "train")))[-1])
probe("DS8-file-beside-classes", lambda: (folder("ds8", {"train": {"a": ["img/l8.png"]}}), Path("ds8/train/stray.png").write_bytes(Path("img/l8.png").read_bytes()), len(create_dataset("imagefolder", "ds8", "train")))[-1])
probe("DS9-10000-empty-class-dirs-plus-one", lambda: ([Path(f"ds9/train/c{i:05d}").mkdir(parents=True) for i in range(2000)], folder("ds9", {"train": {"zz": ["img/l8.png"]}}), create_dataset("imagefolder", "ds9", "train"))[-1])
