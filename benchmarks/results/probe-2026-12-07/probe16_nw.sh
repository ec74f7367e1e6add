#!/bin/bash
# probe 16 (h54): does --num_workers (HOW_IT_RAN: a sweep continues under another value) change what a
# search computes? The same tiny search with 0, 0 again, and 2 workers. Usage: probe16_nw.sh PROBE_DIR
P=$1; cd "$P/w" || exit 1
ulimit -v 8000000; export PYTHONPATH=$P; PY=/work/main/.venv/bin/python
T="--dataset synthetic --image_size 16 --batch_size 16 --epochs 1 --subset 64 --knn_subset 64 --warmup_epochs 0 --out_dir nw"
rm -rf nw
for r in "0 a" "0 b" "2 c"; do set -- $r
  $PY -m nasiam search $T --num_workers $1 --run_name w$1$2 > /dev/null 2>&1; echo "num_workers $1 ($2): rc=$?"
done
$PY - <<'PYX'
import json
for r in ("w0a", "w0b", "w2c"):
    s = json.load(open(f"nw/{r}/summary.json"))
    print(r, "knn_top1", s.get("knn_top1"), "rankme", s.get("rankme"), "loss", (s.get("epochs") or [{}])[-1].get("loss"))
PYX

# M4: --cifar_stem on vs true vs false for a random init (the stem changes the features)
cd "$P/w"; for v in true on false; do $PY -m nasiam eval knn random --dataset synthetic --image_size 16 --num_workers 0 --cifar_stem $v --out stem_$v.json 2>&1 | tail -1; done
