#!/bin/bash
# probe 15 (h52): commands around today's fixes. Usage: probe15_cli.sh PROBE_DIR  (runs under PROBE_DIR/w; runs/s0 from probe15_resume.sh)
P=$1; cd "$P/w" || exit 1
ulimit -v 8000000; export PYTHONPATH=$P; PY=/work/main/.venv/bin/python
TINY="--dataset synthetic --image_size 16 --batch_size 16 --epochs 1 --subset 64 --knn_subset 64 --num_workers 0"
run() { local id=$1; shift; echo "== $id: $*"; "$@" > out.txt 2>&1; echo "rc=$?"; tail -n 2 out.txt | cut -c1-500; }
# ---- export.json: a normal export loads; an old record without "sizes"
rm -rf exp0 exp_old; run EX1 $PY -m nasiam export runs/s0 --out exp0
cp -r exp0 exp_old; $PY - <<'PY'
import json; p = "exp_old/export.json"; d = json.load(open(p)); print("   export.json keys:", sorted(d)); d.pop("sizes", None); json.dump(d, open(p, "w"), indent=1)
PY
run EX2 $PY -m nasiam pretrain $TINY --init exp0 --run_name p_exp0
run EX3 $PY -m nasiam pretrain $TINY --init exp_old --run_name p_expold
run EX4 $PY -m nasiam pretrain $TINY --head exp0/heads/projector --run_name p_head
# ---- save_pretrained: ordinary, nested, a run's heads/<slot>, an export's heads/<slot>
$PY - <<'PY'
import shutil
from nasiam.head.nas_head import NASHead
h = NASHead.from_pretrained("exp0/heads/projector")
for i, d in enumerate(["sp_plain", "sp/a/b/c", "runs/s0/heads/projector", "exp0/heads/projector", "runs/s0/heads", "exp0"]):
    try:
        h.save_pretrained(d); print(f"SP{i+1} save_pretrained({d!r}): OK", NASHead.from_pretrained(d).genotype.layers[0] == h.genotype.layers[0])
    except Exception as e:
        print(f"SP{i+1} save_pretrained({d!r}): {type(e).__name__}: {str(e)[:300]}")
PY
run SP7 $PY -m nasiam pretrain $TINY --head runs/s0/heads/projector --run_name p_runhead
# ---- W&B names through the command line (offline, then disabled)
run WB20 $PY -m nasiam pretrain $TINY --run_name wb1 --logger wandb --wandb_mode offline --wandb_project my-proj_1 --wandb_entity my.team
run WB21 $PY -m nasiam pretrain $TINY --run_name wb2 --logger wandb --wandb_mode disabled --wandb_project "projét ü"
run WB22 env WANDB_PROJECT=a/b $PY -m nasiam pretrain $TINY --run_name wb3 --logger tensorboard
run WB23 env WANDB_PROJECT=ok-proj $PY -m nasiam pretrain $TINY --run_name wb4 --logger wandb --wandb_mode disabled
# ---- stdout closed: commands that print nothing / little
run SO1 sh -c "$PY -m nasiam --version >&-"
run SO2 sh -c "$PY -m nasiam export runs/s0 --out exp_so >&-"
run SO3 sh -c "$PY -m nasiam export runs/s0 --out exp_so2 >/dev/null"
