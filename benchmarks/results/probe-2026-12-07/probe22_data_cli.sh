#!/bin/bash
# Probe 22 (#33), data through the CLI: STL-10 train+unlabeled still trains; image folders; --download folders
cd "$PROBE_DIR" || exit 1
N="/work/main/.venv/bin/python -m nasiam"
T="--image_size 16 --batch_size 16 --subset 32 --knn_subset 32 --num_workers 0 --epochs 1"
run() { echo "== $1"; shift; timeout 280 "$@" > o.txt 2>&1; rc=$?; grep -v "^\s*$" o.txt | grep -iv "warn" | tail -3 | cut -c1-600; echo "rc $rc"; }
# STL-10: 40 labelled, 40 unlabelled, 8 test images
python3 - <<'PY'
import os
b = "stl/stl10_binary"; os.makedirs(b, exist_ok=True)
img = lambda n: bytes(range(256)) * (n * 3 * 96 * 96 // 256)
open(f"{b}/train_X.bin", "wb").write(img(40)); open(f"{b}/train_y.bin", "wb").write(bytes([1 + i % 10 for i in range(40)]))
open(f"{b}/unlabeled_X.bin", "wb").write(img(40))
open(f"{b}/test_X.bin", "wb").write(img(8)); open(f"{b}/test_y.bin", "wb").write(bytes([1 + i % 10 for i in range(8)]))
PY
run "stl10 pretrain default split (train+unlabeled)" $N pretrain --dataset stl10 --data_root stl $T --out_dir o_stl
run "stl10 search default split" $N search --dataset stl10 --data_root stl $T --warmup_epochs 0 --out_dir o_stl2
mkdir -p stl_noun && cp -r stl/stl10_binary stl_noun/ && mkdir stl_noun/stl10_binary/unlabeled_y.bin
run "stl10 with a folder named unlabeled_y.bin" $N pretrain --dataset stl10 --data_root stl_noun $T --out_dir o_stl3
# image folder: an extra class folder in val
python3 - <<'PY'
import os, struct, zlib
def png(path, v):
    raw = b"".join(b"\x00" + bytes([v, v, v]) * 8 for _ in range(8))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
                           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
for split, classes in (("train", ["a", "b"]), ("val", ["a", "b", ".ipynb_checkpoints", "c"])):
    for c in classes:
        os.makedirs(f"if/{split}/{c}", exist_ok=True)
        for i in range(4):
            png(f"if/{split}/{c}/{i}.png", 40 * i)
PY
run "imagefolder val with .ipynb_checkpoints and c" $N pretrain --dataset imagefolder --data_root if $T --out_dir o_if
rm -rf "if/val/c"
run "imagefolder val with .ipynb_checkpoints only" $N pretrain --dataset imagefolder --data_root if $T --out_dir o_if2
# --download folders
touch afile; ln -s nowhere/deeper dangling
run "--download, --data_root under a file" $N pretrain --dataset cifar10 --download --data_root afile/sub $T --out_dir o_d1
run "--download, NASIAM_DATA under a file" env NASIAM_DATA=afile/sub $N pretrain --dataset cifar10 --download $T --out_dir o_d2
run "--download, --data_root a dangling link" $N pretrain --dataset cifar10 --download --data_root dangling $T --out_dir o_d3
run "--download, --data_root a file" $N pretrain --dataset cifar10 --download --data_root afile $T --out_dir o_d4
run "--download, --data_root in /proc" $N pretrain --dataset cifar10 --download --data_root /proc/nasiam $T --out_dir o_d5
echo "== two --download processes racing into new/deep/ (no network here: both fail)"
( timeout 200 $N pretrain --dataset fashion_mnist --download --data_root new/deep $T --out_dir o_r1 > r1.txt 2>&1; echo "rc1 $?" ) &
( timeout 200 $N pretrain --dataset fashion_mnist --download --data_root new/deep $T --out_dir o_r2 > r2.txt 2>&1; echo "rc2 $?" ) &
wait
tail -2 r1.txt | cut -c1-400; tail -2 r2.txt | cut -c1-400
echo "left behind:"; find new 2>&1; ls -a dangling 2>&1; ls o_d1 o_d2 o_d3 o_d4 o_r1 o_r2 2>&1 | head
