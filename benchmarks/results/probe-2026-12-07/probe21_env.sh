#!/bin/bash
# Probe 21 (#33): machine and cluster environment variables, --download without a network, locales.
ulimit -v 8000000
PY=/work/main/.venv/bin/python
NAS="env PYTHONPATH=/work/wt-h63 timeout 150 $PY -m nasiam"
T="--dataset synthetic --image_size 16 --batch_size 16 --subset 32 --knn_subset 32 --num_workers 0 --epochs 1 --logger csv --out_dir runs"
show() { grep -E "Traceback|rror|kNN top-1|Warning|warn|SLURM|slurm|Outputs" "$1" | tail -5; }
case $1 in
slurm)
  for v in "SLURM_JOB_ID=123" "SLURM_JOB_ID=123 SLURM_NTASKS=2 SLURM_PROCID=1 SLURM_LOCALID=1 SLURM_NODEID=0 SLURM_JOB_NAME=train" \
           "SLURM_JOB_ID=123 SLURM_NTASKS=1 SLURM_PROCID=0 SLURM_LOCALID=0 SLURM_NODEID=0 SLURM_JOB_NAME=bash SLURM_NNODES=1" \
           "SLURM_JOB_ID=123 SLURM_NTASKS=4 SLURM_NTASKS_PER_NODE=4 SLURM_PROCID=0 SLURM_LOCALID=0 SLURM_NODEID=0 SLURM_JOB_NAME=train SLURM_NNODES=1" \
           "SLURM_JOB_ID= SLURM_NTASKS=abc SLURM_PROCID=x" "OMP_NUM_THREADS=0" "OMP_NUM_THREADS=-3" "OMP_NUM_THREADS=abc" "NASIAM_DATA=/proc/nasiam" ; do
    n=$((n+1)); echo "=== slurm$n: $v pretrain"
    start=$(date +%s.%N)
    env $v $NAS pretrain $T --run_name slurm$n > log.slurm$n 2>&1; rc=$?
    show log.slurm$n; echo "rc=$rc ($(echo "$(date +%s.%N) - $start" | bc) s)"
  done
  echo "=== num_nodes 2 with SLURM_JOB_ID=1 set on a laptop (no srun)"
  env SLURM_JOB_ID=1 $NAS pretrain $T --run_name nn2 --num_nodes 2 > log.nn2 2>&1; rc=$?; show log.nn2; echo rc=$rc
  ;;
download)
  for ds in fashion_mnist cifar10 stl10; do
    echo "=== download $ds (no network), --data_root dl_$ds"
    env NASIAM_DATA=$PWD/nd $NAS pretrain $T --dataset $ds --download --data_root dl_$ds --run_name dl_$ds > log.dl_$ds 2>&1; echo rc=$?
    grep -E "rror|Traceback" log.dl_$ds | cut -c1-600; ls -la dl_$ds 2>&1 | head -5
  done
  echo "=== download cifar10 without --data_root (NASIAM_DATA=$PWD/nd)"
  env NASIAM_DATA=$PWD/nd $NAS pretrain $T --dataset cifar10 --download --run_name dl_nd > log.dl_nd 2>&1; echo rc=$?
  grep -E "rror|Traceback" log.dl_nd | cut -c1-600; find nd | head
  echo "=== download cifar10 --data_root a file"
  echo x > afile; $NAS pretrain $T --dataset cifar10 --download --data_root afile --run_name dl_f > log.dl_f 2>&1; echo rc=$?; grep -E "rror|Traceback" log.dl_f | cut -c1-600
  echo "=== download cifar10 --data_root under a read-only bind? (/proc/x)"
  $NAS pretrain $T --dataset cifar10 --download --data_root /proc/nasiamdl --run_name dl_p > log.dl_p 2>&1; echo rc=$?; grep -E "rror|Traceback" log.dl_p | cut -c1-600
  ;;
locale)
  cmds=$(env PYTHONPATH=/work/wt-h63 $PY -c "
from nasiam.cli import build_parser
import argparse
p = build_parser()
for a in p._actions:
    if isinstance(a, argparse._SubParsersAction):
        for name, sub in a.choices.items():
            print(name)
            for b in sub._actions:
                if isinstance(b, argparse._SubParsersAction):
                    for n2 in b.choices: print(name + ' ' + n2)
" 2>&1)
  echo "commands: $(echo $cmds | tr '\n' ' ')"
  for loc in C POSIX tr_TR.UTF-8 tr_TR C.UTF-8 "ja_JP.eucJP" "en_US.ISO-8859-1"; do
    bad=0; total=0
    for args in "--version" "--help" $(echo "$cmds" | sed 's/ /_/g'); do
      a=$(echo "$args" | sed 's/_/ /g'); [ "$args" = "--version" ] || [ "$args" = "--help" ] || a="$a --help"
      total=$((total+1))
      out=$(env LANG=$loc LC_ALL=$loc PYTHONIOENCODING= $NAS $a 2>&1); rc=$?
      if [ $rc -ne 0 ] || echo "$out" | grep -q "Traceback\|Error"; then bad=$((bad+1)); echo "  $loc: nasiam $a -> rc=$rc: $(echo "$out" | tail -2 | tr '\n' ' ' | cut -c1-300)"; fi
    done
    echo "LC_ALL=$loc: $total invocations, $bad failed"
  done
  ;;
esac
