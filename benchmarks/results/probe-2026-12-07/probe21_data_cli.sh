#!/bin/bash
# Probe 21 (#33): nasiam pretrain on the hostile data roots probe21_data.py wrote (run in its folder)
ulimit -v 8000000
NAS="env PYTHONPATH=/work/wt-h63 timeout 300 /work/main/.venv/bin/python -m nasiam"
T="--image_size 16 --batch_size 16 --knn_subset 32 --num_workers 0 --epochs 1 --logger csv --out_dir runs"
one() {  # label dataset root [extra...]
  local label=$1 ds=$2 root=$3; shift 3
  echo "=== $label ($ds $root $*)"
  $NAS pretrain --dataset $ds --data_root $root $T --run_name $label "$@" > log.$label 2>&1; rc=$?
  grep -E "Traceback|Error|error|kNN top-1|linear probe top-1|Warning|Note" log.$label | grep -v "^  linear probe: penalty" | tail -6
  echo "rc=$rc"
}
for c in "$@"; do
  case $c in
    F1) one F1 fashion_mnist data/f1 --subset 32 ;;
    F2) one F2 fashion_mnist data/f2 --subset 32 ;;
    F2b) one F2b fashion_mnist data/f2b --subset 32 ;;
    F3) one F3 fashion_mnist data/f3 --subset 32 ;;
    F3b) one F3b fashion_mnist data/f3b --subset 32 ;;
    F4) one F4 fashion_mnist data/f4 --subset 32 ;;
    F6) one F6 fashion_mnist data/f6 --subset 32 ;;
    F7b) one F7b fashion_mnist data/f7b --subset 32 ;;
    C1) one C1 cifar10 data/c1 --subset 64 ;;
    C2) one C2 cifar10 data/c2 --subset 100 ;;
    C3) one C3 cifar10 data/c3 --subset 100 ;;
    C4) one C4 cifar10 data/c4 --subset 64 ;;
    C9) one C9 cifar10 data/c9 --subset 64 ;;
    C11) one C11 cifar10 data/c11 --subset 64 ;;
    C21) one C21 cifar10 data/c21 --subset 64 ;;
    T1) one T1 stl10 data/t1 --train_split train ;;
    T2) one T2 stl10 data/t2 --train_split train ;;
    T3) one T3 stl10 data/t3 --train_split train ;;
    T8) one T8 stl10 data/t8 --train_split train ;;
  esac
done
for c in "$@"; do
  case $c in
    G1) one G1 fashion_mnist data/g1 --subset 32 ;;
    G2) one G2 fashion_mnist data/g2 --subset 32 ;;
    C1b) one C1b cifar10 data/c1b --subset 100 ;;
  esac
done
