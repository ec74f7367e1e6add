#!/bin/bash
# Thirteenth probe of #33 (h46): compare's up-front folder check on folders real runs leave:
# a run SIGKILLed (driver and run) mid-epoch, then the same command again; then links as --out_dir.
W=$1; mkdir -p "$W"; cd "$W" || exit 1
N="/work/main/.venv/bin/python -m nasiam"
TINY="--dataset synthetic --image_size 16 --batch_size 16 --epochs 2 --subset 64 --knn_subset 64 --num_workers 0"
setsid $N compare --seeds 1 $TINY --heads default --out k > k1.log 2>&1 &
pg=$!
for i in $(seq 1 120); do sleep 0.5; [ -f k/runs/default-s0/config.yaml ] && break; done
sleep 1.5
echo "== KC1: killed at: $(find k/runs -printf '%P ' 2>/dev/null)"
kill -9 -- -$pg; wait $pg 2>/dev/null; sleep 0.5
echo "== KC2: same command again"
timeout 400 $N compare --seeds 1 $TINY --heads default --out k > k2.log 2>&1; echo "rc=$?"; grep -v "^\s*$" k2.log | grep -iv "epoch\|it/s" | head -12 | cut -c1-300
echo "== KC3: a finished comparison, again"
timeout 200 $N compare --seeds 1 $TINY --heads default --out k > k3.log 2>&1; echo "rc=$?"; head -5 k3.log | cut -c1-300
ln -s loop loop; touch f; ln -s f lf
run() { local id=$1; shift; echo "== $id: $*"; ( eval "$@" ) > o.txt 2> e.txt; echo "rc=$?"; tail -3 e.txt | cut -c1-400 | cat -v; }
run ND7-out_dir-link-loop "timeout 60 $N pretrain $TINY --out_dir loop --run_name a"
run ND8-out_dir-link-to-file "timeout 60 $N pretrain $TINY --out_dir lf --run_name a"
run ND9-sweep_dir-dangling "timeout 60 $N sweep --config /work/wt-h46/recipes/sweeps/cpu_smoke.yaml --trials 1 --sweep_dir loop"
run ND10-search-out_dir-ctrl-dangling "ln -s /nonexistent-h46 \"\$(printf 'x\x1b[2J')\"; timeout 60 $N search $TINY --warmup_epochs 0 --out_dir \"\$(printf 'x\x1b[2J')\" --run_name a"
