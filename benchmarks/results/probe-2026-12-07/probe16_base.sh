#!/bin/bash
# probe 16 (h54): the runs later probes use (tiny, one at a time). Usage: probe16_base.sh PROBE_DIR
P=$1; cd "$P/w" || exit 1
ulimit -v 8000000; export PYTHONPATH=$P; PY=/work/main/.venv/bin/python
TINY="--dataset synthetic --image_size 16 --batch_size 16 --epochs 1 --subset 64 --knn_subset 64 --num_workers 0"
t() { echo "== $*"; /usr/bin/time -f "%es" $PY -m nasiam "$@" 2>&1 | tail -3; echo "rc=${PIPESTATUS[0]}"; }
t search $TINY --warmup_epochs 0 --out_dir runs --run_name s0
t search $TINY --warmup_epochs 0 --framework simclr --out_dir runs --run_name s1
t export runs/s0 --out e0
t export runs/s1 --out e1
t pretrain $TINY --out_dir runs --run_name p0
