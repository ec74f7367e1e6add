#!/bin/bash
# probe 17 (h56): N6 and N8 by command. N6: a copy of probe17_sweepcli's study swd/nw whose record's
# `parameters` is made a string, continued. N8: a copy of runs/s0 whose heads/projector gets another
# head by save_pretrained, then exported. Usage: probe17_more.sh PROBE_DIR
P=$1; cd "$P/w2" || exit 1
ulimit -v 8000000; export PYTHONPATH=$P/new; PY=/work/main/.venv/bin/python
TINY="--dataset synthetic --image_size 16 --batch_size 16 --epochs 1 --subset 64 --knn_subset 64 --warmup_epochs 0"
rm -rf swd6 && mkdir swd6 && cp -r swd/nw swd6/nw
$PY - <<'PY'
import optuna
s = optuna.load_study(study_name="nw", storage="sqlite:///swd6/nw/optuna.db")
rec = dict(s.user_attrs["sweep"]); rec["parameters"] = "x"; s.set_user_attr("sweep", rec)
PY
$PY -m nasiam sweep --config sw.yaml --trials 3 --sweep_dir swd6 --name nw $TINY --num_workers 0 > n6.log 2>&1; echo "N6 rc=$?"; tail -3 n6.log | cut -c1-300
cd "$P/w" || exit 1
rm -rf n8run n8exp && cp -r runs/s0 n8run
$PY -c "
from nasiam.head import NASHead
NASHead.from_pretrained('runs/s0/heads/predictor').save_pretrained('n8run/heads/projector')" ; echo "N8 save rc=$?"
$PY -m nasiam export n8run --out n8exp > n8.log 2>&1; echo "N8 export rc=$?"; tail -3 n8.log | cut -c1-400
