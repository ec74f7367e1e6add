#!/bin/bash
# probe 17 (h56): the one run the others use: a tiny simsiam search s0. Usage: probe17_base.sh PROBE_DIR
P=$1; cd "$P/w" || exit 1
ulimit -v 8000000; export PYTHONPATH=$P/new; PY=/work/main/.venv/bin/python
TINY="--dataset synthetic --image_size 16 --batch_size 16 --epochs 1 --subset 64 --knn_subset 64 --num_workers 0"
/usr/bin/time -f "%es" $PY -m nasiam search $TINY --warmup_epochs 0 --out_dir runs --run_name s0 > s0.log 2>&1; echo "s0 rc=$?"; tail -3 s0.log
ls runs/s0
