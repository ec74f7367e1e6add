#!/bin/bash
# probe 18 (h57): M11 for compare (--out under a folder nothing can be made in; a new nested --out),
# M10 for pretrain with stdout closed / to /dev/null. Usage: probe18_compare.sh PROBE_DIR
P=$1; cd "$P/w" || exit 1
ulimit -v 8000000; export PYTHONPATH=$P/new; PY=/work/main/.venv/bin/python
TINY="--dataset synthetic --image_size 16 --batch_size 16 --epochs 1 --subset 64 --knn_subset 64 --num_workers 0"
NOCAP="setpriv --bounding-set=-dac_override,-dac_read_search,-fowner --inh-caps=-all"
c() { local id=$1; shift; echo "== $id: $*"; timeout 400 "$@" > $id.log 2>&1; echo "   rc=$?"; grep -v "^\s*$" $id.log | tail -2 | cut -c1-400 | sed 's/^/   /'; }
c C1 $NOCAP $PY -m nasiam compare --heads default,e0 --seeds 1 --jobs 1 $TINY --out ro/cmp
c C2 $PY -m nasiam compare --heads default,e0 --seeds 1 --jobs 1 $TINY --out newcmp/deep/cmp
ls newcmp/deep/cmp 2>&1 | tr '\n' ' '; echo
$PY -m nasiam pretrain $TINY --out_dir runs --run_name so1 >&- 2> so1.err; echo "== SO1 pretrain >&-: rc=$? $(tail -1 so1.err | cut -c1-250); runs/so1: $(ls runs/so1 2>/dev/null | tr '\n' ' ' || true)"
$PY -m nasiam pretrain $TINY --out_dir runs --run_name so2 > /dev/null 2> so2.err; echo "== SO2 pretrain > /dev/null: rc=$? runs/so2: $(ls runs/so2 | tr '\n' ' ')"
