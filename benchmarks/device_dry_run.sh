#!/usr/bin/env bash
# The GPU machine's two commands (see gpu_throughput.py's docstring), run on this CPU in a copy of
# that machine's Python environment, before spending device time on them.
#
#   bash benchmarks/device_dry_run.sh [OUT_DIR]
#
# The GPU machines have Python 3.12, torch 2.11.0, torchvision 0.26.0, pytorch-lightning 2.6.6
# (which carries lightning_fabric), timm, safetensors, numpy, matplotlib, tqdm, pyyaml, scipy; no
# wandb, optuna, lightly or tensorboard, and no registry, so nasiam runs from the checkout on
# PYTHONPATH, uninstalled. This builds that environment once (DEVICE_VENV, default
# ~/.cache/nasiam/device-venv; about 5 GB, a few minutes) and runs, on CPU, the device call
# benchmarks/gpu_session.sh:
#   1. gpu_profile.py and gpu_throughput.py --compile (their tiny versions on a CPU; every step,
#      eager and compiled with inductor);
#   2. gpu_smoke.sh with NASIAM_SMOKE_CPU=1: every search and pretrain run of the GPU smoke test,
#      --compile included (inductor on CPU: a few minutes), fp16 as 32-true.
# It found that `nasiam search --compile` crashed under torch 2.11 at its first architecture step
# (a dynamo guard the newer torch of the dev environment does not skip). About 15-25 minutes on
# two cores, the install and the compiled runs most of it.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$(mktemp -d -t nasiam-device-dry-run-XXXX)}
VENV=${DEVICE_VENV:-$HOME/.cache/nasiam/device-venv}
DATA="$ROOT/.data/fashion-mnist"   # where the device call carries it from (git-ignored)
mkdir -p "$OUT"

is_python312() { [[ -n "$1" ]] && "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; }

if [[ ! -f "$VENV/.installed" ]]; then  # written last: a failed install is redone, not half used
  PY=${DEVICE_PYTHON:-}
  if [[ -z "$PY" ]]; then  # the first candidate that really is 3.12 (a pyenv shim may only pretend)
    for candidate in "$(command -v python3.12 || true)" $(ls -d "$HOME"/.pyenv/versions/3.12* 2>/dev/null | sort -V -r); do
      [[ -d "$candidate" ]] && candidate="$candidate/bin/python"
      if is_python312 "$candidate"; then PY=$candidate; break; fi
    done
  fi
  if ! is_python312 "$PY"; then
    echo "no Python 3.12 found (the GPU machines run 3.12): set DEVICE_PYTHON=/path/to/python3.12" >&2
    exit 2
  fi
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  # the machines' versions where the difference can matter; the rest as resolved
  "$VENV/bin/pip" install -q torch==2.11.0 torchvision==0.26.0 pytorch-lightning==2.6.6 timm safetensors \
    huggingface_hub numpy matplotlib tqdm pyyaml scipy
  touch "$VENV/.installed"
fi
if [[ ! -f "$DATA/train-images-idx3-ubyte.gz" ]]; then
  mkdir -p "$DATA"
  cp /usr/share/datasets/fashion-mnist/*.gz "$DATA/" 2>/dev/null || {
    echo "copy the four Fashion-MNIST IDX .gz files into $DATA (Debian: apt-get install dataset-fashion-mnist)" >&2
    exit 2
  }
fi

cd "$ROOT"
export PATH="$VENV/bin:$PATH" PYTHONPATH="$ROOT" PYTHON=python3 PYTHONUNBUFFERED=1
python3 -c "import sys, torch; print(f'Python {sys.version.split()[0]}, torch {torch.__version__}')"
# the device call itself (on a CPU: throughput --tiny, the smoke test's CPU variant), with time
# for two slow cores; it exits non-zero if any step failed or ran out of time
DEADLINE=${DEADLINE:-2400} NASIAM_SMOKE_CPU=1 bash benchmarks/gpu_session.sh "$OUT"
echo "device dry run passed; outputs in $OUT"
