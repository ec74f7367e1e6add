#!/bin/bash
# Probe 22 (#33): image folders with extra class folders in val (enough images this time); out_dir left by a refused data root
cd "$PROBE_DIR" || exit 1
N="/work/main/.venv/bin/python -m nasiam"
T="--image_size 16 --batch_size 16 --subset 32 --knn_subset 32 --num_workers 0 --epochs 1"
run() { echo "== $1"; shift; timeout 280 "$@" > o.txt 2>&1; rc=$?; grep -v "^\s*$" o.txt | grep -iv "warn" | tail -3 | cut -c1-600; echo "rc $rc"; }
rm -rf if2
python3 - <<'PY'
import os, struct, zlib
def png(path, v):
    raw = b"".join(b"\x00" + bytes([v, v, v]) * 8 for _ in range(8))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
                           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
for split, classes in (("train", ["a", "b"]), ("val", ["a", "b", ".ipynb_checkpoints", "c"])):
    for c in classes:
        os.makedirs(f"if2/{split}/{c}", exist_ok=True)
        for i in range(12):
            png(f"if2/{split}/{c}/{i}.png", 20 * i)
PY
run "imagefolder val with .ipynb_checkpoints and c" $N pretrain --dataset imagefolder --data_root if2 $T --out_dir o_if
rm -rf if2/val/c
run "imagefolder val with .ipynb_checkpoints only" $N pretrain --dataset imagefolder --data_root if2 $T --out_dir o_if2
rm -rf if2/val/.ipynb_checkpoints
run "imagefolder valid" $N pretrain --dataset imagefolder --data_root if2 $T --out_dir o_if3
run "eval on that run" $N eval o_if3/*/ --protocol knn --data_root if2
mkdir -p if2/val/zz_extra && cp if2/val/a/0.png if2/val/zz_extra/
run "eval after an extra val class zz_extra" $N eval o_if3/*/ --protocol knn --data_root if2
run "cifar10 missing (no --download)" $N pretrain --dataset cifar10 --data_root nothing_here $T --out_dir o_nd
ls -la o_if o_if2 o_nd 2>&1
