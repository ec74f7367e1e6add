#!/bin/bash
# probe 20: eval's split checks on legitimate image folders, finetune batches, k capped (run from the probe folder)
export PYTHONPATH=$PWD; ulimit -v 8000000
N="timeout 300 /work/main/.venv/bin/python -m nasiam"
IF="--dataset imagefolder --image_size 16 --num_workers 0"
c() { echo "== $1"; shift; "$@" 2>&1 | tail -4; echo "rc=${PIPESTATUS[0]}"; }
c "V1 knn s0 on if_ok (unicode/space classes, a val class of 1 image)" $N eval knn runs/s0 $IF --data_root if_ok --out v1.json
c "V2 knn random on if_link (data_root through a link, absolute)" $N eval knn random $IF --data_root $PWD/if_link --out v2.json
c "V3 linear s0 on if_few (a class of 1 train image)" $N eval linear runs/s0 $IF --data_root if_few --out v3.json
c "V4 finetune s0 on if_ok --label_fraction 0.5 --batch_size 3 --epochs 1" $N eval finetune runs/s0 $IF --data_root if_ok --label_fraction 0.5 --batch_size 3 --epochs 1 --out v4.json
c "V5 finetune s0 on if_ok --label_fraction 1 --batch_size 24 --epochs 1 (one full batch)" $N eval finetune runs/s0 $IF --data_root if_ok --label_fraction 1 --batch_size 24 --epochs 1 --out v5.json
c "V6 finetune s0 on if_ok --label_fraction 1 --batch_size 64 (batch > data)" $N eval finetune runs/s0 $IF --data_root if_ok --label_fraction 1 --batch_size 64 --epochs 1 --out v6.json
c "V7 knn s0 synthetic --bank_subset 16 --k 5000" $N eval knn runs/s0 --dataset synthetic --image_size 16 --num_workers 0 --bank_subset 16 --k 5000 --out v7.json
python3 -c "import json;d=json.load(open('v7.json'));print({k:v for k,v in d.items() if 'k' in k.lower()})" 2>&1
c "V8 knn s0 synthetic --bank_subset 16 --k 16 (exactly the bank)" $N eval knn runs/s0 --dataset synthetic --image_size 16 --num_workers 0 --bank_subset 16 --k 16 --out v8.json
c "V9 linear s0 --bank_subset 2" $N eval linear runs/s0 --dataset synthetic --image_size 16 --num_workers 0 --bank_subset 2 --out v9.json
