#!/bin/bash
# probe 15 (h52): --resume=RUN_DIR with --run_name/--out_dir/--config (K7's check). Usage: probe15_resume.sh PROBE_DIR
# PROBE_DIR holds a `git archive HEAD` copy of nasiam/; runs are made under PROBE_DIR/w.
P=$1; cd "$P/w" || exit 1
ulimit -v 8000000; export PYTHONPATH=$P; PY=/work/main/.venv/bin/python
TINY="--dataset synthetic --image_size 16 --batch_size 16 --epochs 1 --subset 64 --knn_subset 64 --num_workers 0 --warmup_epochs 0"
run() { local id=$1; shift; echo "== $id: $*"; "$@" > out.txt 2>&1; echo "rc=$?"; tail -n 3 out.txt | cut -c1-400; }
S0=$P/w/runs/s0
[ -d runs/s0 ] || $PY -m nasiam search $TINY --run_name s0 >/dev/null 2>&1
ln -sfn runs/s0 link_s0; ln -sfn runs link_runs
run R1 $PY -m nasiam search $TINY --epochs 2 --resume=runs/s0
run R2 $PY -m nasiam search $TINY --epochs 3 --resume=runs/s0 --run_name s0 --out_dir runs/
run R3 $PY -m nasiam search $TINY --epochs 4 --resume=runs/s0 --run_name s0 --out_dir "$P/w/runs"
run R4 $PY -m nasiam search $TINY --epochs 5 --resume=link_s0 --run_name s0
run R5 $PY -m nasiam search $TINY --epochs 6 --resume=runs/s0/ --run_name s0 --out_dir link_runs
cd /tmp
run R6 $PY -m nasiam search $TINY --epochs 7 --resume="$S0"
run R7 $PY -m nasiam search --config "$S0/config.yaml" --epochs 8 --resume="$S0"
cd "$P/w"
run R8 $PY -m nasiam search --config runs/s0/config.yaml --epochs 8 --resume=runs/s0
run R9 $PY -m nasiam search $TINY --epochs 9 --resume=runs/s0/checkpoints/last.ckpt --run_name s0
