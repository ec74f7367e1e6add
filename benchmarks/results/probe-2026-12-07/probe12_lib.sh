#!/bin/bash
# The twelfth probe of issue #33 (h43): shared helpers. Source it: T=<mktemp -d holding nasiam/ and runs/s0> . probe12_lib.sh
echo 10 > /proc/self/autogroup 2>/dev/null
ulimit -v 8000000
export T
PY=/work/main/.venv/bin/python
HERE=/work/wt-h43/benchmarks/results/probe-2026-12-07
export PYTHONPATH=$T PYTHONDONTWRITEBYTECODE=1
TINY="--dataset synthetic --image_size 16 --batch_size 16 --epochs 1 --subset 64 --knn_subset 64 --num_workers 0"
IMG="--dataset imagefolder --image_size 16 --batch_size 4 --epochs 1 --num_workers 0 --knn_subset 16"
mkdir -p $T/bin; printf '#!/bin/sh\nexec %s -m nasiam "$@"\n' "$PY" > $T/bin/nasiam; chmod +x $T/bin/nasiam
export PATH=$T/bin:$PATH
mkdir -p $T/o $T/c
p() {  # p ID CMD...: run under limits in $T/c, one summary line (rc, seconds, raw control characters, tracebacks, stderr tail)
  local id=$1; shift
  local t0=$SECONDS
  ( cd $T/c; timeout ${TO:-300} "$@" ) >$T/o/$id.out 2>$T/o/$id.err
  local rc=$?
  local esc=$(cat $T/o/$id.out $T/o/$id.err | tr -cd '\033\007\233' | wc -c)
  local tb=$(grep -c Traceback $T/o/$id.err)
  echo "$id rc=$rc $((SECONDS-t0))s rawctl=$esc tb=$tb :: $(grep -v -e Warning -e warnings.warn -e '^ *$' $T/o/$id.err | tail -c 600 | tr '\n\033\007' '|^^')"
}
