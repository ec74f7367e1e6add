#!/bin/bash
# Probe 22 (#33), CLI: WANDB_MODE empty; a sweep whose continuous distribution is on an integer option
cd "$PROBE_DIR" || exit 1
N="/work/main/.venv/bin/python -m nasiam"
TINY="--dataset synthetic --image_size 16 --batch_size 16 --subset 32 --knn_subset 32 --num_workers 0 --epochs 1"
echo "== WANDB_MODE='' --wandb --wandb_mode offline"
WANDB_MODE= WANDB_DIR=$PROBE_DIR timeout 240 $N pretrain $TINY --out_dir w1 --wandb --wandb_mode offline 2>&1 | tail -6; echo "rc ${PIPESTATUS[0]}"; ls w1 2>&1
echo "== sweep: uniform on batch_size (an int option)"
cat > s1.yaml <<'Y'
method: random
metric: {name: knn_top1, goal: maximize}
parameters:
  batch_size: {distribution: uniform, min: 16, max: 20}
Y
timeout 240 $N sweep --config s1.yaml --trials 1 --sweep_dir sw1 $TINY --warmup_epochs 0 2>&1 | tail -6; echo "rc ${PIPESTATUS[0]}"
cat sw1/*/results.md 2>/dev/null
