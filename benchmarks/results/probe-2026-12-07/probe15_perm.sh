#!/bin/bash
# probe 15 (h52): stdout closed on a search; --out_dir under an unwritable parent, as root and without overrides.
P=$1; cd "$P/w" || exit 1
ulimit -v 8000000; export PYTHONPATH=$P; PY=/work/main/.venv/bin/python
TINY="--dataset synthetic --image_size 16 --batch_size 16 --epochs 1 --subset 64 --knn_subset 64 --num_workers 0 --warmup_epochs 0"
NOOV="setpriv --bounding-set=-dac_override,-dac_read_search,-fowner --inh-caps=-dac_override,-dac_read_search,-fowner"
run() { local id=$1; shift; echo "== $id: $*"; "$@" > out.txt 2>&1; echo "rc=$?"; tail -n 2 out.txt | cut -c1-500; }
run SO4 sh -c "$PY -m nasiam search $TINY --out_dir so_runs --run_name so >&-"
echo "   so_runs exists after SO4: $(test -e so_runs && echo yes: $(find so_runs | head -5) || echo no)"
mkdir -p ro_parent && chmod 555 ro_parent
run PM1 $PY -m nasiam search $TINY --out_dir ro_parent/runs --run_name r1
echo "   ro_parent/runs after PM1 (root): $(ls ro_parent 2>&1)"
rm -rf ro_parent/runs
run PM2 $NOOV $PY -m nasiam search $TINY --out_dir ro_parent/runs --run_name r2
echo "   ro_parent after PM2 (no overrides): $(ls -A ro_parent 2>&1)"
mkdir -p ro_parent2/runs && chmod 555 ro_parent2/runs
run PM3 $NOOV $PY -m nasiam search $TINY --out_dir ro_parent2/runs --run_name r3
run PM4 $NOOV $PY -m nasiam export runs/s1 --out ro_parent/exp
chmod 755 ro_parent ro_parent2/runs
