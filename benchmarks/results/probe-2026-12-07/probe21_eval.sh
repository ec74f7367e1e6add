#!/bin/bash
# Probe 21 (#33): eval's split check (runner/build.check_eval_splits) on image folders; `eval knn random`.
ulimit -v 8000000
PY=/work/main/.venv/bin/python
NAS="env PYTHONPATH=/work/wt-h63 timeout 200 $PY -m nasiam"
mk() {  # folder class... : 4 16x16 PNGs per class
  env PYTHONPATH=/work/wt-h63 $PY - "$@" <<'PYEOF'
import sys, numpy as np
from pathlib import Path
from PIL import Image
root = Path(sys.argv[1])
for c in sys.argv[2:]:
    d = root / c; d.mkdir(parents=True, exist_ok=True)
    for i in range(4):
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(d / f"{i}.png")
PYEOF
}
ev() {  # label root [extra]
  local label=$1 root=$2; shift 2
  echo "=== $label"
  $NAS eval knn random --dataset imagefolder --data_root $root --image_size 16 --batch_size 8 --num_workers 0 --backbone resnet10t --k 3 --out ev_$label.json "$@" > log.ev_$label 2>&1; rc=$?
  grep -E "Traceback|rror|top-1|top1|Note" log.ev_$label | cut -c1-500 | tail -4; echo "rc=$rc"
}
rm -rf img; mkdir img
mk img/e0/train a b; mk img/e0/val a b; ev E0_sound img/e0
mk img/e1/train a b; mk img/e1/val/a/sub x; mk img/e1/val b; ev E1_val_class_nested_only img/e1
mk img/e2/train a b; mkdir -p img/e2/val; ev E2_val_empty img/e2
mk img/e3/train a b; mk img/e3/val a B; ev E3_val_case_differs img/e3
mk img/e4/train a b; mk img/e4/val a b .ipynb_checkpoints; ev E4_val_hidden_class img/e4
mk img/e5/train a b; echo x > img/e5/val; ev E5_val_a_file img/e5
mk img/e6/train a b; mk img/e6/val a b; mkdir -p img/e6/val/c; ev E6_val_empty_extra_class img/e6
mk img/e7/train a b; mk img/e7/val a; ev E7_val_missing_class img/e7
mk img/e8/train a b; mk img/e8/val a b; mkdir img/e8/train/c; ev E8_train_empty_class img/e8
mk img/e9/a x; mk img/e9/b x; ev E9_plain_class_folders_no_val img/e9
mk img/e10/train a b; mk img/e10/val a b; ln -s ../train/a img/e10/val/c; ev E10_val_link_to_train_class img/e10
mk img/e11/train a b; mkdir -p img/e11/val; ln -s ../train/a img/e11/val/a; ln -s ../train/b img/e11/val/b; ev E11_val_is_train_by_links img/e11
mk img/e12/train a b; mk img/e12/val a b; ev E12_knn_bank_subset_1 img/e12 --bank_subset 1
