#!/bin/bash
# probe 18 (h57): M5 on a pretraining run of another method (its default heads record no framework):
# a mocov3 pretrain pm, then simsiam --init runs/pm; eval of a file with --out given (M14's message).
# Usage: probe18_more.sh PROBE_DIR (after probe18_base.sh)
P=$1; cd "$P/w" || exit 1
ulimit -v 8000000; export PYTHONPATH=$P/new; PY=/work/main/.venv/bin/python
TINY="--dataset synthetic --image_size 16 --batch_size 16 --epochs 1 --subset 64 --knn_subset 64 --num_workers 0"
c() { local id=$1; shift; echo "== $id: $*"; timeout 300 "$@" > $id.log 2>&1; echo "   rc=$?"; grep -v "^\s*$" $id.log | tail -3 | cut -c1-400 | sed 's/^/   /'; }
c F1 $PY -m nasiam eval knn runs/s0/config.yaml --bank_subset 64 --num_workers 0 --out ev/f1.json
c F2 $PY -m nasiam eval knn runs/s0/config.yaml --bank_subset 64 --num_workers 0 --out /tmp/h57probe.GME7/w/ev/f2.json
c M1 $PY -m nasiam pretrain $TINY --framework mocov3 --out_dir runs --run_name pm
c M2 $PY -m nasiam pretrain $TINY --init runs/pm --out_dir runs --run_name im
grep -h '"framework"' runs/pm/summary.json runs/im/summary.json 2>/dev/null | head -2
