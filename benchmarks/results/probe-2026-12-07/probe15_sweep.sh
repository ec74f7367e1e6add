#!/bin/bash
# probe 15 (h52): a study continued with other command-line options (not in the sweep file's record). Usage: probe15_sweep.sh PROBE_DIR
P=$1; cd "$P/w" || exit 1
ulimit -v 8000000; export PYTHONPATH=$P; PY=/work/main/.venv/bin/python
cat > sw.yaml <<'Y'
method: random
metric: {name: knn_top1, goal: maximize}
parameters:
  arch_lr: {distribution: log_uniform_values, min: 0.01, max: 0.1}
Y
O="--dataset synthetic --image_size 16 --batch_size 16 --subset 64 --knn_subset 64 --num_workers 0 --warmup_epochs 0"
rm -rf swd
echo "== SWC1: --trials 1 --epochs 1"; $PY -m nasiam sweep --config sw.yaml --sweep_dir swd --trials 1 $O --epochs 1 2>&1 | tail -4; echo "rc=${PIPESTATUS[0]}"
echo "== SWC2: same study, --trials 2 --epochs 3 --subset 32"; $PY -m nasiam sweep --config sw.yaml --sweep_dir swd --trials 2 $O --epochs 3 --subset 32 2>&1 | tail -6; echo "rc=${PIPESTATUS[0]}"
grep -h "^epochs\|^subset" swd/sw/trials/trial-*/config.yaml
