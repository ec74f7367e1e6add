#!/bin/bash
# Probe 21 (#33): 2-process CPU DDP (gloo): --devices 2; torchrun with ranks given different options; a rank killed.
ulimit -v 8000000
PY=/work/main/.venv/bin/python
export PYTHONPATH=/work/wt-h63
T="--dataset synthetic --image_size 16 --batch_size 16 --subset 64 --knn_subset 32 --num_workers 0 --logger csv --out_dir druns --accelerator cpu"
show() { grep -E "Traceback|rror|kNN top-1|Outputs|interrupt|stopp|Initializing" "$1" | cut -c1-400 | tail -6; }
case $1 in
dev2)
  echo "=== D1 --devices 2 --epochs 1"
  timeout 300 $PY -m nasiam pretrain $T --devices 2 --epochs 1 --run_name d1 > log.d1 2>&1; echo "rc=$?"; show log.d1 ;;
kill)
  echo "=== D2 --devices 2 --epochs 30: the second rank (a child of rank 0) SIGKILLed after 'epoch 1'"
  timeout 300 $PY -m nasiam pretrain $T --devices 2 --epochs 30 --run_name d2 > log.d2 2>&1 & p=$!
  for i in $(seq 1 120); do sleep 1; grep -q "epoch 1" log.d2 && break; done
  kids=$(pgrep -P $p -f "python" | tr '\n' ' '); echo "driver $p, its python children: $kids"
  all=$(pstree -p $p | grep -o '([0-9]*)' | tr -d '()' | tr '\n' ' '); echo "tree: $all"
  rank0=$(pgrep -P $p | head -1); victim=$(pgrep -P $rank0 -f "nasiam" | head -1)   # rank 1: the process rank 0 started
  [ -n "$victim" ] && { echo "kill -9 $victim at $(date +%T)"; kill -9 $victim; }
  start=$(date +%s); wait $p; echo "rc=$? after $(( $(date +%s) - start )) s"; show log.d2; ls druns/d2 druns/d2/checkpoints 2>&1 | tr '\n' ' '; echo ;;
torchrun)
  cat > rankargs.sh <<'EOR'
#!/bin/bash
extra="--batch_size 16"; [ "$RANK" = 1 ] && extra="--batch_size 8 --seed 7"
exec /work/main/.venv/bin/python -m nasiam pretrain "$@" $extra
EOR
  chmod +x rankargs.sh
  echo "=== D3 torchrun 2 procs, rank 1 with --batch_size 8 --seed 7"
  timeout 300 $PY -m torch.distributed.run --nproc_per_node 2 --no_python ./rankargs.sh $T --devices 2 --epochs 1 --run_name d3 > log.d3 2>&1; echo "rc=$?"; show log.d3; ls druns/d3 2>&1 | tr '\n' ' '; echo
  echo "=== D4 torchrun 2 procs, same args"
  timeout 300 $PY -m torch.distributed.run --nproc_per_node 2 -m nasiam pretrain $T --devices 2 --epochs 1 --run_name d4 > log.d4 2>&1; echo "rc=$?"; show log.d4 ;;
esac
