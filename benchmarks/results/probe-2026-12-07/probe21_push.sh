#!/bin/bash
# Probe 21 (#33): the export's model card after 9ef757e (export.json's "run" absolute; the dataset only from a
# matching run): the run folder deleted and a new run made under the same name, then the card read.
ulimit -v 8000000
PY=/work/main/.venv/bin/python
NAS="env PYTHONPATH=/work/wt-h63 timeout 300 $PY -m nasiam"
T="--image_size 16 --batch_size 16 --subset 32 --knn_subset 32 --num_workers 0 --warmup_epochs 0 --epochs 1 --logger csv --out_dir pruns"
card() { env PYTHONPATH=/work/wt-h63 $PY -c "import sys; from nasiam.rundir import run_card; print('card of', sys.argv[1], run_card(sys.argv[1]))" "$1" 2>&1 | tail -1; }
rm -rf pruns pex
$NAS search --dataset synthetic $T --run_name s0 > log.push1 2>&1; echo "search synthetic rc=$?"
$NAS export pruns/s0 --out pex > log.push2 2>&1; echo "export rc=$?"; grep '"run"' pex/export.json
card pex
rm -rf pruns/s0
$NAS search --dataset fashion_mnist $T --run_name s0 > log.push3 2>&1; echo "search fashion_mnist into the same name rc=$?"
card pex
echo "--- export.json's checkpoint, epoch; the new run's checkpoints:"; grep -E '"checkpoint"|"epoch"' pex/export.json; ls pruns/s0/checkpoints
