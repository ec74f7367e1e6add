#!/bin/bash
# probe 17 (h56): encode's two-view check on the command-line paths the in-process probe does not
# reach: search --strategy darts2 / tpe (select_by_trials encodes held-out batches), pretrain
# mocov3, pretrain --init of s0's export. Usage: probe17_train.sh PROBE_DIR (needs runs/s0)
P=$1; cd "$P/w" || exit 1
ulimit -v 8000000; export PYTHONPATH=$P/new; PY=/work/main/.venv/bin/python
TINY="--dataset synthetic --image_size 16 --batch_size 16 --epochs 1 --subset 64 --knn_subset 64 --num_workers 0"
r() { id=$1; shift; "$@" > $id.log 2>&1; echo "$id rc=$? $(tail -1 $id.log | cut -c1-200)"; }
r T1 $PY -m nasiam search $TINY --warmup_epochs 0 --strategy darts2 --out_dir runs --run_name t1
r T2 $PY -m nasiam search $TINY --warmup_epochs 0 --strategy tpe --out_dir runs --run_name t2
r T3 $PY -m nasiam export runs/s0 --out e0
r T4 $PY -m nasiam pretrain $TINY --framework mocov3 --out_dir runs --run_name p1
r T5 $PY -m nasiam pretrain $TINY --init e0 --out_dir runs --run_name p2
