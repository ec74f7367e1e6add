#!/bin/bash
# probe 16 (h54), part A by command: the sweep record (L1/L2) end to end; stdout closed from the
# start for the commands besides search/pretrain (L6); --out under an unwritable parent without
# overrides for eval/compare/sweep (L7). Usage: probe16_cli.sh PROBE_DIR (needs probe16_base.sh's runs)
P=$1; cd "$P/w" || exit 1
ulimit -v 8000000; export PYTHONPATH=$P; PY=/work/main/.venv/bin/python
TINY="--dataset synthetic --image_size 16 --batch_size 16 --epochs 1 --subset 64 --knn_subset 64 --num_workers 0"
O="--dataset synthetic --image_size 16 --batch_size 16 --subset 64 --knn_subset 64 --num_workers 0 --warmup_epochs 0 --epochs 1"
NOOV="setpriv --bounding-set=-dac_override,-dac_read_search,-fowner --inh-caps=-dac_override,-dac_read_search,-fowner"
run() { local id=$1; shift; echo "== $id: $*"; "$@" > out.txt 2>&1; echo "rc=$?"; tail -n 3 out.txt | cut -c1-700; }
cat > sw.yaml <<'Y'
method: random
metric: {name: knn_top1, goal: maximize}
parameters:
  arch_lr: {distribution: log_uniform_values, min: 0.01, max: 0.1}
Y
rm -rf swd
run SWA1 $PY -m nasiam sweep --config sw.yaml --sweep_dir swd --trials 1 $O --precision 32
run SWA2 $PY -m nasiam sweep --config sw.yaml --sweep_dir swd --trials 1 $O --precision 32-true
run SWA3 $PY -m nasiam sweep --config sw.yaml --sweep_dir swd --trials 1 $O --precision=32 --num_workers 2 --logger tensorboard
# a study whose record names an option this nasiam has not (a study of another version)
$PY - <<'PYX'
import optuna
st = optuna.load_study(study_name="sw", storage="sqlite:///swd/sw/optuna.db")
rec = dict(st.user_attrs["sweep"]); rec["options"] = {**rec["options"], "arch_lr_warmup": 2}
st.set_user_attr("sweep", rec)
PYX
run SWA4 $PY -m nasiam sweep --config sw.yaml --sweep_dir swd --trials 1 $O --precision 32
# hyperband's strict flipped: what does the message show?
cp sw.yaml sw2.yaml; echo "early_terminate: {type: hyperband, min_iter: 1}" >> sw2.yaml
run SWA5 $PY -m nasiam sweep --config sw2.yaml --sweep_dir swd --trials 1 $O
sed -i 's/min_iter: 1}/min_iter: 1, strict: false}/' sw2.yaml
run SWA6 $PY -m nasiam sweep --config sw2.yaml --sweep_dir swd --trials 1 $O
# stdout closed from the start (L6 covers search and pretrain)
run SO1 sh -c "$PY -m nasiam sweep --config sw.yaml --sweep_dir so_swd --trials 1 $O >&-"
echo "   so_swd: $(find so_swd -maxdepth 3 2>/dev/null | head -8 | tr '\n' ' ')"
run SO2 sh -c "$PY -m nasiam export runs/s0 --out so_exp >&-"
echo "   so_exp: $(ls so_exp 2>&1 | tr '\n' ' ')"
run SO3 sh -c "$PY -m nasiam eval knn runs/p0 --num_workers 0 --out so_knn.json >&-"
echo "   so_knn.json: $(ls so_knn.json 2>&1)"
run SO4 sh -c "$PY -m nasiam compare --seeds 1 $TINY --heads default --out so_cmp >&-"
echo "   so_cmp: $(find so_cmp -maxdepth 2 2>/dev/null | head -8 | tr '\n' ' ')"
# --out under a 0555 parent, without overrides (L7's fix is export's)
mkdir -p ro && chmod 555 ro
run PM1 $NOOV $PY -m nasiam export runs/s0 --out ro/sub/exp
run PM2 $NOOV $PY -m nasiam eval knn runs/p0 --num_workers 0 --out ro/k.json
run PM3 $NOOV $PY -m nasiam sweep --config sw.yaml --sweep_dir ro/swd --trials 1 $O
run PM4 $NOOV $PY -m nasiam compare --seeds 1 $TINY --heads default --out ro/cmp
run PM5 $NOOV $PY -m nasiam eval curves runs/s0 --out ro/c.png
echo "   ro: $(ls -A ro)"
chmod 755 ro
