#!/bin/bash
# Probe 22 (#33): 2-process CPU DDP: ranks given different HOW_IT_RAN options must run; no --run_name; a lost peer
ulimit -v 8000000
cd "$PROBE_DIR" || exit 1
PY=/work/main/.venv/bin/python
T="--dataset synthetic --image_size 16 --batch_size 16 --subset 64 --knn_subset 32 --num_workers 0 --logger csv --out_dir druns --accelerator cpu"
show() { grep -E "Traceback|rror|kNN top-1|Outputs|interrupt|stopp|processes" "$1" | cut -c1-600 | tail -5; }
cat > rankargs.sh <<'EOR'
#!/bin/bash
extra=""; [ "$RANK" = 1 ] && extra="--num_workers 1 --log_every_n_steps 3 --keep_checkpoints 5 --data_root /nonexistent/elsewhere --wandb_mode disabled"
exec /work/main/.venv/bin/python -m nasiam pretrain "$@" $extra
EOR
chmod +x rankargs.sh
echo "=== E1 torchrun 2 procs, rank 1 with other HOW_IT_RAN options (num_workers, log_every_n_steps, keep_checkpoints, data_root, wandb_mode)"
timeout 300 $PY -m torch.distributed.run --nproc_per_node 2 --no_python ./rankargs.sh $T --devices 2 --epochs 1 --run_name e1 > log.e1 2>&1; echo "rc=$?"; show log.e1
echo "=== E2 torchrun 2 procs, same options, no --run_name"
timeout 300 $PY -m torch.distributed.run --nproc_per_node 2 -m nasiam pretrain $T --devices 2 --epochs 1 > log.e2 2>&1; echo "rc=$?"; show log.e2; ls druns
echo "=== E3 --devices 2 --epochs 30: rank 1 SIGKILLed after 'epoch 1'"
timeout 300 $PY -m nasiam pretrain $T --devices 2 --epochs 30 --run_name e3 > log.e3 2>&1 & p=$!
for i in $(seq 1 150); do sleep 1; grep -q "epoch 1" log.e3 && break; done
rank0=$(pgrep -P $p | head -1); victim=$(pgrep -P $rank0 -f "nasiam" | head -1)
[ -z "$victim" ] && victim=$(pgrep -P $p -f nasiam | tail -1)
[ -n "$victim" ] && { echo "kill -9 $victim (driver $p)"; kill -9 $victim; }
start=$(date +%s); wait $p; echo "rc=$? after $(( $(date +%s) - start )) s"; show log.e3; ls druns/e3/checkpoints 2>&1 | tr '\n' ' '; echo
