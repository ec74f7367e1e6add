#!/bin/bash
# Q/P7-P9 and eval's option edges. Run from the probe folder ($P) with PYTHONPATH at its new/ copy.
PY=/work/main/.venv/bin/python
R=$(ls -d runs/p0/pretrain-simsiam-*)
FM="--dataset fashion_mnist --data_root /usr/share/datasets/fashion-mnist"
e() { local label=$1; shift; local t0=$SECONDS
  out=$(timeout 300 $PY -m nasiam "$@" 2>&1); rc=$?
  echo "[$label] rc=$rc $((SECONDS-t0))s tb=$(grep -c Traceback <<<"$out") :: $(grep -v '^\s*$' <<<"$out" | grep -v 'features\|it/s' | tail -3 | tr '\n' '|' | cut -c1-400)"; }
mkdir -p ex && echo '{"run": "x"}' > ex/export.json; echo hi > plain.txt
e E1-channels eval knn $R $FM --num_workers 0 --bank_subset 64
e E2-file-no-out eval knn $R/backbone.safetensors --num_workers 0
e E3-export-no-out eval knn ex --num_workers 0
e E4-missing-target eval knn nosuch/run --num_workers 0
e E5-proc-out eval knn $R --num_workers 0 --bank_subset 64 --out /proc/nasiam/x.json
e E6-proc-out-direct eval knn $R --num_workers 0 --bank_subset 64 --out /proc/x.json
e E7-out-under-file eval knn $R --num_workers 0 --bank_subset 64 --out plain.txt/x.json
e E8-curves-proc-out eval curves $R --out /proc/nasiam/c.png
e E9-curves-out-under-file eval curves $R --out plain.txt/c.png
e E10-bank-over eval knn $R --num_workers 0 --bank_subset 100000 --out o10.json
e E11-k-over-bank eval knn $R --num_workers 0 --bank_subset 16 --k 5000 --out o11.json
e E12-k-max eval knn $R --num_workers 0 --k 10000 --bank_subset 64 --out o12.json
e E13-linear-bank1 eval linear $R --num_workers 0 --bank_subset 1 --out o13.json
e E14-linear-bank3 eval linear $R --num_workers 0 --bank_subset 3 --out o14.json
e E15-finetune-tiny-frac eval finetune $R --num_workers 0 --label_fraction 1e-9 --epochs 1 --out o15.json
e E16-finetune-bs1 eval finetune $R --num_workers 0 --label_fraction 1e-9 --epochs 1 --batch_size 1 --out o16.json
e E17-finetune-bs2 eval finetune $R --num_workers 0 --label_fraction 0.0171 --epochs 1 --batch_size 8 --out o17.json
e E18-knn-bs1 eval knn $R --num_workers 0 --batch_size 1 --bank_subset 8 --out o18.json
for f in o1*.json; do echo "$f: $(head -c 300 $f)"; done
