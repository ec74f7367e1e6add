#!/bin/bash
# The tenth probe of issue #33 (h38): shared helpers. Source it: T=<mktemp -d holding code/> . probe10_lib.sh
echo 10 > /proc/self/autogroup 2>/dev/null
export T
PY=/work/main/.venv/bin/python
export PYTHONPATH=${CODE:-$T/code} PYTHONDONTWRITEBYTECODE=1
NAS="$PY -m nasiam"
TINY="--dataset synthetic --image_size 16 --batch_size 16 --epochs 1 --subset 64 --knn_subset 64 --num_workers 0"
mkdir -p $T/o $T/cwd $T/runs
p() {  # p ID CMD...: run under limits in $T/cwd, one summary line (rc, raw control characters, tracebacks, stderr tail)
  local id=$1; shift
  ( ulimit -v 8000000; cd $T/cwd; timeout ${TO:-1500} "$@" ) >$T/o/$id.out 2>$T/o/$id.err
  local rc=$?
  local esc=$(cat $T/o/$id.out $T/o/$id.err | tr -cd '\033\007\233' | wc -c)
  local tb=$(grep -c Traceback $T/o/$id.err)
  echo "$id rc=$rc rawctl=$esc tb=$tb :: $(grep -v -e Warning -e warnings.warn -e '^ *$' $T/o/$id.err | tail -c 700 | tr '\n\033\007' '|^^')" | tee -a $T/summary.log
}
