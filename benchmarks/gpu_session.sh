#!/usr/bin/env bash
# A session's GPU checks in one device call, sized for 15 minutes of device time with the
# machine's start (a minute or two) included: run it with the device tool's timeout_s=570.
#
#   bash benchmarks/gpu_session.sh OUT_DIR      # on the device: bash benchmarks/gpu_session.sh $OUT
#
# carry: .data (the four Fashion-MNIST IDX .gz files in .data/fashion-mnist/, git-ignored;
# benchmarks/device_dry_run.sh puts them there). Writes these files, each a step's output, so a
# step cut off by its time limit still leaves the others:
#   gpu.txt                the device, Python and torch
#   profile.md             gpu_profile.py: per call of the augmentation, a plain step and the
#                          bilevel step (4 updates, 1), wall time against the GPU's kernel time
#   throughput.md          gpu_throughput.py, reduced to fit (15 steps a call, 2 rounds): plain,
#                          bilevel (4 architecture updates a step), bilevel1 (one) and joint, eager
#                          and compiled, fed by views made once (the model alone) and by device
#                          augmentation (compiled too in the compiled rows), and bilevel and
#                          bilevel1 with the architecture updates as CUDA graphs (+graphs rows,
#                          --arch_cuda_graphs; with inductor's CUDA-graph counters: recorded or
#                          skipped, and why)
#   smoke.log              gpu_smoke.sh: every search and pretrain path, then the exported heads
#                          and the host syncs per step, by the line that calls them
#   smoke-runs/NAME.log    each smoke run's own log
# Why this order: the profile (~30 s) says whether the search step's gap and the augmentation's
# are the host launching kernels or the kernels themselves, which three throughput calls could
# not; the throughput figures are issue #10's targets, and their compiled rows whether
# --compile closes the gaps (compilation is most of that step: 141 s on an H200, 2026-12-04);
# the smoke test checks what the figures do not (its two phases took 2.3 min on an H200 with a
# phase's runs at once, the host-sync counts after them more than another minute), so it is
# kept at least 235 s. (DataLoader workers fed 5-6 % of the model's rate in all three H200 calls of
# 2026-12-04 and are no longer timed here: `gpu_throughput.py --feeds model,workers` does.)
# Each step gets what is left of DEADLINE seconds (default 540), less a reserve for the next.
# SMOKE_DATA: the Fashion-MNIST folder (default .data/fashion-mnist, what the call carries).
# SMOKE_DIR: where the smoke test's runs go (default a new temporary folder; they are not brought
# back: a second session on one machine would otherwise find the first one's runs there).
set -uo pipefail

OUT=${1:?usage: bash benchmarks/gpu_session.sh OUT_DIR}
DEADLINE=${DEADLINE:-540}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)   # absolute: the steps run from the repository's root
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD PYTHON=${PYTHON:-python3} PYTHONUNBUFFERED=1
end=$((SECONDS + DEADLINE))
# seconds left, keeping $1 for the steps after; at least 1 (`timeout 0` would mean no limit)
left() { local n=$((end - SECONDS - $1)); echo $((n > 0 ? n : 1)); }

{ nvidia-smi -L 2>&1 || true
  "$PYTHON" -c "import sys, torch; print('Python', sys.version.split()[0], 'torch', torch.__version__, 'CUDA', torch.version.cuda,
                torch.cuda.get_device_name() if torch.cuda.is_available() else 'no CUDA device')"
  nproc; } >"$OUT/gpu.txt" 2>&1
cat "$OUT/gpu.txt"

status=0  # the first failed step's exit status (124: cut off by its time limit); every step runs
step() {  # step NAME SECONDS OUTFILE COMMAND...
  local name=$1 limit=$2 file=$3 rc
  shift 3
  timeout "$limit" "$@" >"$file" 2>&1
  rc=$?
  echo "$name: exit $rc at $SECONDS s"
  [[ $rc != 0 && $status == 0 ]] && status=$rc
  return 0
}
step profile "$(left 380)" "$OUT/profile.md" "$PYTHON" benchmarks/gpu_profile.py
step throughput "$(left 240)" "$OUT/throughput.md" "$PYTHON" benchmarks/gpu_throughput.py --steps 15 --rounds 2 \
  --images 8192 --workers 0 --steps_only plain,bilevel,bilevel1,joint --feeds model,device --compile --graphs
SMOKE_DIR=${SMOKE_DIR:-$(mktemp -d -t nasiam-smoke-XXXX)}
step smoke "$(left 5)" "$OUT/smoke.log" bash benchmarks/gpu_smoke.sh "${SMOKE_DATA:-.data/fashion-mnist}" "$SMOKE_DIR"
# each run's log, finished or cut (the first parallel smoke test was cut with nothing to show why)
mkdir -p "$OUT/smoke-runs" && cp "$SMOKE_DIR"/*.log "$OUT/smoke-runs/" 2>/dev/null
grep '^|' "$OUT/profile.md"
grep -v '^W[0-9]' "$OUT/throughput.md" | grep -E '^\||^###|^\(|^graph counters|^\+graphs' | tail -n 34
tail -n 15 "$OUT/smoke.log"
exit $status
