#!/bin/bash
# the folders probe19_folders.py made, through the commands
PY=/work/main/.venv/bin/python
TINY="--image_size 16 --batch_size 16 --epochs 1 --subset 64 --knn_subset 64 --num_workers 0"
e() { local label=$1; shift; local t0=$SECONDS
  out=$(timeout 300 $PY -m nasiam "$@" 2>&1); rc=$?
  echo "[$label] rc=$rc $((SECONDS-t0))s tb=$(grep -c Traceback <<<"$out") :: $(grep -v '^\s*$' <<<"$out" | grep -v 'features\|it/s' | tail -3 | tr '\n' '|' | cut -c1-500)"; }
for f in if_shift if_extra if_fewer; do
  e "$f eval knn random" eval knn random --dataset imagefolder --data_root $f --image_size 16 --num_workers 0 --out $f-knn.json
done
e "if_shift eval linear random" eval linear random --dataset imagefolder --data_root if_shift --image_size 16 --num_workers 0 --out if_shift-lin.json
e "if_shift eval finetune random" eval finetune random --dataset imagefolder --data_root if_shift --image_size 16 --num_workers 0 --epochs 1 --out if_shift-ft.json
e "if_shift pretrain (train checks it)" pretrain --dataset imagefolder --data_root if_shift $TINY --out_dir runs/ifs
e "if_names pretrain" pretrain --dataset imagefolder --data_root if_names $TINY --out_dir runs/ifn
e "if_names eval linear random" eval linear random --dataset imagefolder --data_root if_names --image_size 16 --num_workers 0 --out if_names-lin.json
e "if_names eval finetune random frac 0.01" eval finetune random --dataset imagefolder --data_root if_names --image_size 16 --num_workers 0 --epochs 1 --label_fraction 0.01 --out if_names-ft.json
