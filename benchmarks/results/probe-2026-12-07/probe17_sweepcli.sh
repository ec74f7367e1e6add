#!/bin/bash
# probe 17 (h56): N1/N2 by command. A study started by main before 951b1b6 (PROBE_DIR/old, a
# `git archive 951b1b6^` copy) under `--num_workers 0` and under `--framework moco`, continued by
# today's main (PROBE_DIR/new) under the very same command line; then the advice followed.
# Usage: probe17_sweepcli.sh PROBE_DIR
P=$1; mkdir -p "$P/w2"; cd "$P/w2" || exit 1
ulimit -v 8000000; PY=/work/main/.venv/bin/python
TINY="--dataset synthetic --image_size 16 --batch_size 16 --epochs 1 --subset 64 --knn_subset 64 --warmup_epochs 0"
cat > sw.yaml <<'Y'
method: random
metric: {name: knn_top1, goal: maximize}
parameters:
  arch_lr: {distribution: log_uniform_values, min: 0.01, max: 0.1}
Y
r() { id=$1; shift; "$@" > $id.log 2>&1; echo "$id rc=$?"; grep -i "error" $id.log | tail -2 | cut -c1-600; }
r C1-old env PYTHONPATH=$P/old $PY -m nasiam sweep --config sw.yaml --trials 1 --sweep_dir swd --name nw $TINY --num_workers 0
r C2-new-same env PYTHONPATH=$P/new $PY -m nasiam sweep --config sw.yaml --trials 2 --sweep_dir swd --name nw $TINY --num_workers 0
r C3-old env PYTHONPATH=$P/old $PY -m nasiam sweep --config sw.yaml --trials 1 --sweep_dir swd --name moco $TINY --num_workers 0 --framework moco
r C4-new-same env PYTHONPATH=$P/new $PY -m nasiam sweep --config sw.yaml --trials 2 --sweep_dir swd --name moco $TINY --num_workers 0 --framework moco
r C5-new-mocov2 env PYTHONPATH=$P/new $PY -m nasiam sweep --config sw.yaml --trials 2 --sweep_dir swd --name moco $TINY --num_workers 0 --framework mocov2
# the advice followed word for word: the options it names, nothing else
r C6-new-advice-moco env PYTHONPATH=$P/new $PY -m nasiam sweep --config sw.yaml --trials 2 --sweep_dir swd --name moco --batch_size 16 --dataset synthetic --epochs 1 --framework moco --image_size 16 --knn_subset 64 --subset 64 --warmup_epochs 0
r C7-new-advice-nw env PYTHONPATH=$P/new $PY -m nasiam sweep --config sw.yaml --trials 2 --sweep_dir swd --name nw --batch_size 16 --dataset synthetic --epochs 1 --image_size 16 --knn_subset 64 --subset 64 --warmup_epochs 0
grep -h "num_workers" swd/nw/*/*/config.yaml swd/nw/*/config.yaml 2>/dev/null | sort | uniq -c
