#!/bin/bash
# Probe 21 (#33): nasiam sweep with odd sweep files not in earlier probes (base: recipes/sweeps/cpu_smoke.yaml, 1 epoch).
ulimit -v 8000000
NAS="env PYTHONPATH=/work/wt-h63 timeout 150 /work/main/.venv/bin/python -m nasiam"
mkdir -p sw; base=/work/wt-h63/recipes/sweeps/cpu_smoke.yaml
mkf() {  # name, python edit of the dict d
  env PYTHONPATH=/work/wt-h63 /work/main/.venv/bin/python - "$base" "sw/$1.yaml" "$2" <<'PYEOF'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1])); d["parameters"]["epochs"] = {"value": 1}; d["parameters"]["warmup_epochs"] = {"value": 0}
d["parameters"]["subset"] = {"value": 64}; d["parameters"]["knn_subset"] = {"value": 32}
exec(sys.argv[3]); yaml.safe_dump(d, open(sys.argv[2], "w"))
PYEOF
}
s() { local n=$1; shift; echo "=== $n: $*"; start=$(date +%s); $NAS sweep --config sw/$n.yaml --sweep_dir swd "$@" > log.sw_$n 2>&1; rc=$?; grep -v "^\s*$" log.sw_$n | grep -E "rror|Traceback|best|trial|finished" | cut -c1-400 | tail -3; echo "rc=$rc ($(( $(date +%s) - start )) s)"; }
mkf W1 'd["parameters"]["arch_lr"] = {"distribution": "log_uniform_values", "min": 0.1, "max": 0.01}'; s W1 --trials 1
mkf W2 'd["parameters"]["beta_weight"] = {"values": []}'; s W2 --trials 1
mkf W3 'd["parameters"]["arch_lr"] = {"distribution": "q_uniform", "min": 0.01, "max": 0.1, "q": 0}'; s W3 --trials 1
mkf W4 'd["method"] = "grid"'; s W4
mkf W5 'd["parameters"]["nosuch_option"] = {"value": 1}'; s W5 --trials 1
mkf W6 'd["metric"] = {"name": "nosuch_metric", "goal": "maximize"}'; s W6 --trials 1
mkf W7 'd["metric"]["goal"] = "sideways"'; s W7 --trials 1
mkf W8 'pass'; s W8 --trials 0; s W8 --trials -1
mkf W9 'd["early_terminate"] = {"type": "hyperband", "min_iter": 0, "eta": 1}'; s W9 --trials 1
mkf W10 'd["parameters"]["arch_lr"] = {"distribution": "log_uniform_values", "min": 0, "max": 0.1}'; s W10 --trials 1
mkf W11 'd["parameters"]["epochs"] = {"values": [1, "two"]}'; s W11 --trials 1
mkf W12 'd["parameters"]["arch_lr"] = {"distribution": "normal", "mu": 0.05, "sigma": 0.0}'; s W12 --trials 1
ls swd 2>&1 | head
