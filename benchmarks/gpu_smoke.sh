#!/usr/bin/env bash
# GPU smoke test (issue #10): `nasiam search` and `nasiam pretrain` for a few steps under
# --precision=bf16-mixed and 16-mixed, with --compile, with --arch_cuda_graphs (GPU only: refused on a
# CPU), on device-resident data (--data_device=gpu)
# and on DataLoader workers, then checks every exported head loads with NASHead.from_pretrained
# and counts the host syncs per step (GPU only). Exits non-zero once a phase of runs has a failed
# run (each run's log is kept), or on an unloadable head.
#
#   bash benchmarks/gpu_smoke.sh FASHION_MNIST_DIR [OUT_DIR]
#
# FASHION_MNIST_DIR holds train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz and the t10k
# pair (on the device machine: copied into .data/fashion-mnist/, ignored by git). One at a time,
# nine of the ten runs took 4.9 minutes on an H200 (2026-12-04; search --compile 98 s) before the
# call's limit cut the tenth, so on a GPU a phase's runs go at once (SMOKE_JOBS, below); the wall
# time that way is not measured yet.
# NASIAM_SMOKE_CPU=1 runs it on a CPU (cpu data, 32-true for fp16; --compile with inductor on the
# CPU, a few minutes): benchmarks/device_dry_run.sh does so in a copy of the GPU machines' Python.
set -euo pipefail

DATA=${1:?usage: bash benchmarks/gpu_smoke.sh FASHION_MNIST_DIR [OUT_DIR]}
OUT=${2:-$(mktemp -d -t nasiam-gpu-smoke-XXXX)}
PY=${PYTHON:-python}
mkdir -p "$OUT"

for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
  [[ -f "$DATA/$f" ]] || { echo "missing $DATA/$f: copy the Fashion-MNIST IDX files there" >&2; exit 2; }
done
ACCEL=gpu DEV=gpu FP16=16-mixed COMPILE=--compile SUBSET=4096 BATCH=256
if [[ "${NASIAM_SMOKE_CPU:-0}" == 1 ]]; then
  ACCEL=cpu DEV=cpu FP16=32-true SUBSET=512 BATCH=64
else
  "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device: this smoke test needs a GPU')"
fi

# small and short: a few dozen steps per run, the CPU demo's model sizes
COMMON=(--dataset=fashion_mnist "--data_root=$DATA" --subset=$SUBSET --batch_size=$BATCH --epochs=2
        --accelerator=$ACCEL --knn_subset=1024 --out_dir="$OUT")
SEARCH=(--warmup_epochs=1)

# The runs of a phase go SMOKE_JOBS at a time (default: all seven searches at once on a GPU,
# which has room for many such small runs, so the test fits a device call; one at a time on a
# CPU). A phase's results are reported in order once all its runs have ended; the pretraining
# runs continue from the searches, so they are the second phase.
JOBS=${SMOKE_JOBS:-$([[ $ACCEL == gpu ]] && echo 7 || echo 1)}
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || { echo "SMOKE_JOBS must be a positive integer, got '$JOBS'" >&2; exit 2; }
# each run's CPU threads: its share of the cores (seven runs of 16 threads each on 16 cores: the
# first parallel smoke test on an H200 had not ended one search after 275 s, 2026-12-04)
CORES=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)   # the cores (nproc honours both variables)
THREADS=$(( CORES / JOBS > 0 ? CORES / JOBS : 1 ))
PHASE=()

start() {  # start NAME COMMAND OPTIONS...: one CLI run in the background, its log in OUT/NAME.log
  local name=$1; shift
  while (( $(jobs -rp | wc -l) >= JOBS )); do wait -n || true; done
  rm -f "$OUT/$name.status"
  ( begun=$SECONDS rc=0   # (`|| rc=$?`: under set -e a bare failure would end the subshell unrecorded)
    OMP_NUM_THREADS=$THREADS "$PY" -m nasiam "$@" "${COMMON[@]}" --run_name="$name" >"$OUT/$name.log" 2>&1 || rc=$?
    echo "$rc $((SECONDS - begun))" >"$OUT/$name.status"
    echo "ended  $name: exit $rc after $((SECONDS - begun)) s" ) &   # at once: a cut test still says how far it got
  PHASE+=("$name")
}

finish_phase() {  # wait for the phase's runs, report each in order; exit 1 if any failed
  wait
  local name rc seconds failed=0
  for name in "${PHASE[@]}"; do
    rc=1 seconds="?"
    [[ -f "$OUT/$name.status" ]] && read -r rc seconds <"$OUT/$name.status"
    if [[ $rc == 0 ]]; then
      echo "ok     $name ($seconds s)"
    else
      echo "FAILED $name (exit $rc, log $OUT/$name.log):" >&2
      tail -n 30 "$OUT/$name.log" >&2
      failed=1
    fi
  done
  PHASE=()
  [[ $failed == 0 ]] || exit 1
}

start search-bf16 search "${SEARCH[@]}" --precision=bf16-mixed --data_device=$DEV
start search-fp16 search "${SEARCH[@]}" --precision=$FP16 --data_device=$DEV
start search-joint-bf16 search "${SEARCH[@]}" --mode=joint --precision=bf16-mixed --data_device=$DEV
start search-joint-fp16 search "${SEARCH[@]}" --mode=joint --precision=$FP16 --data_device=$DEV
start search-compile search "${SEARCH[@]}" --precision=bf16-mixed --data_device=$DEV $COMPILE
start search-workers search "${SEARCH[@]}" --precision=bf16-mixed --data_device=workers --num_workers=2
if [[ $ACCEL == gpu ]]; then   # CUDA graphs of the architecture update: nothing to graph on a CPU (refused there)
  start search-graphs search "${SEARCH[@]}" --precision=bf16-mixed --data_device=$DEV --arch_cuda_graphs
fi
finish_phase
start pretrain-bf16 pretrain --precision=bf16-mixed --data_device=$DEV "--init=$OUT/search-bf16" --linear_probe=true
start pretrain-fp16 pretrain --precision=$FP16 --data_device=$DEV "--init=$OUT/search-fp16" --linear_probe=true
start pretrain-compile pretrain --precision=bf16-mixed --data_device=$DEV $COMPILE "--init=$OUT/search-compile" \
  --linear_probe=true
finish_phase

"$PY" - "$OUT" <<'EOF'
import json
import sys
from pathlib import Path

import torch

from nasiam import NASHead

out = Path(sys.argv[1])
heads = sorted(out.glob("*/heads/*"))
if len(heads) < 20:  # 7 searches and 3 pretrains, projector and predictor each
    sys.exit(f"expected 20 exported heads under {out}, found {len(heads)}: {[str(h) for h in heads]}")
for directory in heads:
    head = NASHead.from_pretrained(directory)
    y = head(torch.randn(8, head.in_dim))
    if not torch.isfinite(y).all():
        sys.exit(f"{directory}: non-finite output")
for summary in sorted(out.glob("*/summary.json")):
    data = json.loads(summary.read_text())
    print(f"{summary.parent.name:18s} kNN top-1 {data.get('knn_top1')}  training {data.get('train_seconds', '?')} s")
print(f"all {len(heads)} exported heads load and run")
EOF
# Host syncs per training step, from CUDA's sync debug mode (issue #10: none in the weight
# step, one per architecture step; Gumbel adds one per searchable layer per sample): two short
# runs of 16 and 32 steps (search: 8 and 16 weight steps); the difference in synchronising calls
# per extra step is the step's own (start-up and the final kNN cancel out).
if [[ "${NASIAM_SMOKE_CPU:-0}" != 1 ]]; then
"$PY" - "$DATA" "$OUT" <<'EOF'
import collections
import sys
import traceback
import warnings

import torch

from nasiam.cli import main

data, out = sys.argv[1], sys.argv[2]


def nasiam_line(filename, lineno):
    """The innermost nasiam line on the stack (the warning's own location is often inside torch)."""
    for frame in reversed(traceback.extract_stack()):
        if "/nasiam/" in frame.filename and "site-packages" not in frame.filename:
            return f"{'/'.join(frame.filename.split('/')[-2:])}:{frame.lineno}"
    return f"{'/'.join(filename.split('/')[-2:])}:{lineno}"


def syncs(label, command, subset, extra):
    sites = collections.Counter()

    def record(message, category, filename, lineno, file=None, line=None):
        if "synchroniz" in str(message):   # called while the synchronising operator runs: its stack
            sites[nasiam_line(filename, lineno)] += 1

    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = record
            code = main([command, "--dataset=fashion_mnist", f"--data_root={data}", f"--subset={subset}",
                         "--batch_size=256", "--epochs=1", "--accelerator=gpu", "--data_device=gpu",
                         "--log_every_n_steps=1000", "--knn_subset=1024", f"--out_dir={out}/syncs",
                         f"--run_name={label}-{subset}", *extra])
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert code == 0, f"{command} failed ({code})"
    return sites


for label, command, extra, steps in (
        ("pretrain", "pretrain", ["--linear_probe=false"], 16),
        ("search", "search", ["--warmup_epochs=0"], 8),
        ("search-gumbel", "search", ["--warmup_epochs=0", "--strategy=gumbel"], 8)):
    few, more = syncs(label, command, 4096, extra), syncs(label, command, 8192, extra)
    per_step = sum(more.values()) - sum(few.values())
    sites = ", ".join(f"{site} {(more[site] - few[site]) / steps:.2f}" for site in sorted(set(more) | set(few))
                      if more[site] != few[site])
    print(f"{label:13s} host syncs per training step: {per_step / steps:.2f} ({sites or 'none'})")
EOF
fi
echo "GPU smoke test passed; outputs in $OUT"
