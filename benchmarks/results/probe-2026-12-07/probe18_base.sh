#!/bin/bash
# probe 18 (h57): the runs the others use: a tiny simsiam search s0, its export e0, a simsiam
# pretrain p0 (default heads), a simclr search c0 and its export ce0. Usage: probe18_base.sh PROBE_DIR
P=$1; mkdir -p "$P/w"; cd "$P/w" || exit 1
ulimit -v 8000000; export PYTHONPATH=$P/new; PY=/work/main/.venv/bin/python
TINY="--dataset synthetic --image_size 16 --batch_size 16 --epochs 1 --subset 64 --knn_subset 64 --num_workers 0"
run() { local n=$1; shift; /usr/bin/time -f "%es" $PY -m nasiam "$@" > $n.log 2>&1; echo "$n rc=$?"; tail -2 $n.log; }
run s0 search $TINY --warmup_epochs 0 --out_dir runs --run_name s0
run e0 export runs/s0 --out e0
run p0 pretrain $TINY --out_dir runs --run_name p0
run c0 search $TINY --warmup_epochs 0 --framework simclr --out_dir runs --run_name c0
run ce0 export runs/c0 --out ce0
ls runs/s0 runs/p0 e0
