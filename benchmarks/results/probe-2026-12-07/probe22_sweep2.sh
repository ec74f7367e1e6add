#!/bin/bash
# Probe 22 (#33): T2/T3 end to end through `nasiam sweep` (one trial each)
cd "$PROBE_DIR" || exit 1
N="/work/main/.venv/bin/python -m nasiam"
T="--dataset synthetic --image_size 16 --batch_size 16 --subset 32 --knn_subset 32 --num_workers 0 --epochs 1 --warmup_epochs 0"
sw() {
  echo "== $1: $2"
  printf 'method: random\nmetric: {name: knn_top1, goal: maximize}\nparameters:\n  %s\n' "$2" > "$1.yaml"
  timeout 240 $N sweep --config "$1.yaml" --trials 1 --sweep_dir sw3 $T 2>&1 | grep -iv warn | grep -E "trial|error|best|finished" | cut -c1-400
  echo "rc ${PIPESTATUS[0]}"
}
sw q_tiny "lr: {distribution: q_uniform, min: 0.0, max: 1.0, q: 1.0e-300}"
sw int_lr "lr: {distribution: int_uniform, min: 0.0001, max: 0.01}"
sw q_int_batch "batch_size: {distribution: q_uniform, min: 16, max: 32, q: 16}"
