#!/bin/bash
# Probe 11 (h41), the last minutes: own_input over two seeds; G5's describe_holder re-run.
# usage: bash probe11_more.sh TMPDIR
echo 10 > /proc/self/autogroup
ulimit -v 8000000
T=$1; cd "$T/cli" || exit 1
export PYTHONPATH=$T
PY=/work/main/.venv/bin/python
TINY="--dataset synthetic --image_size 16 --batch_size 16 --epochs 1 --subset 64 --knn_subset 64 --num_workers 0"
nasiam() { timeout 300 $PY -m nasiam "$@"; }
echo "== J4: row x refused on its own --data_root with --seeds 2 (is x-s1 started?)"
J4="x=default(--dataset=imagefolder --data_root=$PWD/img/pnghuge --batch_size=4 --knn_subset=16 --subset=16)"
nasiam compare --seeds 2 $TINY --heads "$J4" --out j4 > j4.txt 2>&1; echo "J4 rc=$? tb=$(grep -c Traceback j4.txt) :: $(grep -E 'started|FAILED|not run' j4.txt | cut -c1-220 | tr '\n' ' ')"
echo "== G5 re-run: runs/default-s0/.lock holds another program's text, flock-held by a live process"
mkdir -p ll/runs/default-s0 && echo 'hello, not json' > ll/runs/default-s0/.lock
flock ll/runs/default-s0/.lock sleep 120 & FL=$!
sleep 1
nasiam compare --seeds 1 $TINY --heads default --out ll > g5.txt 2>&1; echo "G5 rc=$? tb=$(grep -c Traceback g5.txt) :: $(tail -c 500 g5.txt | tr '\n' ' ')"
kill $FL; wait $FL 2>/dev/null
echo "lock text after: $(cat ll/runs/default-s0/.lock)"
