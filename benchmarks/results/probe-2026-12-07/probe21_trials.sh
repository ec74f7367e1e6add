#!/bin/bash
# Probe 21 (#33): nasiam search --strategy tpe/random (runner/multi_trial.select_by_trials) at the edges.
ulimit -v 8000000
NAS="env PYTHONPATH=/work/wt-h63 timeout 200 /work/main/.venv/bin/python -m nasiam"
T="--dataset synthetic --image_size 16 --batch_size 16 --subset 64 --knn_subset 32 --num_workers 0 --epochs 2 --warmup_epochs 0 --logger csv --out_dir truns"
m() { local n=$1; shift; echo "=== $n: search $*"; $NAS search $T --run_name $n "$@" > log.$n 2>&1; rc=$?; grep -E "Traceback|rror|trial|kNN top-1|genotype" log.$n | cut -c1-300 | tail -4; echo "rc=$rc"; ls truns/$n 2>/dev/null | tr '\n' ' '; echo; }
m M1 --strategy random --genotype_trials 1
m M2 --strategy tpe --genotype_trials 0
m M3 --strategy tpe --genotype_trials 1000000000
m M4 --strategy random --genotype_trials 3 --collapse_min_std 2
[ -f truns/M1/genotype_trials.csv ] && head -3 truns/M1/genotype_trials.csv; find truns/M1 -name "*.csv" | head
