#!/bin/bash
# Probe 21 (#33): the W&B logger with hostile environment variables (offline: no network here).
ulimit -v 8000000
PY=/work/main/.venv/bin/python
NAS="env PYTHONPATH=/work/wt-h63 timeout 200 $PY -m nasiam"
T="--dataset synthetic --image_size 16 --batch_size 16 --subset 32 --knn_subset 32 --num_workers 0 --epochs 1 --logger csv --out_dir lruns"
echo x > afile
n=0
for v in "WANDB_MODE=bogus" "WANDB_MODE=offline WANDB_ENTITY=a/b" "WANDB_MODE=offline WANDB_DIR=$PWD/afile" "WANDB_MODE=offline WANDB_RUN_ID=../../x" "WANDB_MODE=offline WANDB_NAME=$(printf 'a\033[31mred')"; do
  n=$((n+1)); echo "=== W$n: $v pretrain --wandb"
  env $v $NAS pretrain $T --wandb --run_name w$n > log.w$n 2>&1; rc=$?
  grep -E "Traceback|rror|kNN top-1|Outputs" log.w$n | cut -c1-400 | tail -4; echo "rc=$rc"; ls lruns/w$n 2>/dev/null | tr '\n' ' '; echo
done
ls -la x* ../x 2>/dev/null
