#!/bin/bash
# probe 16 (h54): L3 against every --data_device a CPU has (gpu needs a device machine; none lent).
P=$1; cd "$P/w" || exit 1
ulimit -v 8000000; export PYTHONPATH=$P; PY=/work/main/.venv/bin/python
TINY="--dataset synthetic --image_size 16 --batch_size 16 --epochs 1 --subset 64 --knn_subset 64 --num_workers 0"
for d in cpu workers auto gpu; do
  $PY -m nasiam search $TINY --warmup_epochs 0 --data_device $d --out_dir dd --run_name s_$d > out_dd.txt 2>&1; echo "search --data_device $d: rc=$? $(tail -1 out_dd.txt | cut -c1-200)"
done
for d in cpu workers; do
  $PY -m nasiam pretrain $TINY --framework mocov3 --data_device $d --out_dir dd --run_name p_$d > out_dd.txt 2>&1; echo "pretrain mocov3 --data_device $d: rc=$? $(tail -1 out_dd.txt | cut -c1-200)"
done
