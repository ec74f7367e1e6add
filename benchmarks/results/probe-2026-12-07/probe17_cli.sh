#!/bin/bash
# probe 17 (h56): export's suggested --out (ce2adcd) with odd names, copied back through a shell;
# stdout closed / to a file / to /dev/null for sweep and compare (M10's LONG_COMMANDS).
# Usage: probe17_cli.sh PROBE_DIR (needs probe17_base.sh's runs/s0)
P=$1; cd "$P/w" || exit 1
ulimit -v 8000000; export PYTHONPATH=$P/new; PY=/work/main/.venv/bin/python
TINY="--dataset synthetic --image_size 16 --batch_size 16 --epochs 1 --subset 64 --knn_subset 64 --num_workers 0"
i=0
for name in "my exp" "it's" "ëxp ☃" 'a"b' '$(touch PWNED)' "-dash" "$(printf 'x%.0s' $(seq 1 320))"; do
  i=$((i+1)); rm -rf "ex$i"; mkdir -p "ex$i/$name"; touch "ex$i/$name/f"
  (cd "ex$i" && $PY -m nasiam export ../runs/s0 --out "$name" >o 2>e; echo "EX$i [$name] rc=$?"; sugg=$(sed -n 's/.*, e\.g\. \(.*\)$/\1/p' e | tail -1)
   echo "   suggested: ${sugg:0:120}"
   [ -n "$sugg" ] && sh -c "$PY -m nasiam export ../runs/s0 --out $sugg >o2 2>e2; echo \"   export --out <suggested> through sh: rc=\$?\""
   ls -A | head -5 | sed 's/^/   in ex: /'; [ -e PWNED ] && echo "   **PWNED file made**")
done
echo "== stdout closed / file / /dev/null"
cat > sw.yaml <<'Y'
method: random
metric: {name: knn_top1, goal: maximize}
parameters:
  arch_lr: {values: [0.01]}
Y
sh -c "$PY -m nasiam sweep --help >&-"; echo "SO1 sweep --help stdout closed rc=$?"
sh -c "$PY -m nasiam compare --help >&-"; echo "SO2 compare --help stdout closed rc=$?"
$PY -m nasiam sweep --help >/dev/null; echo "SO3 sweep --help >/dev/null rc=$?"
$PY -m nasiam compare --help >hf; echo "SO4 compare --help >file rc=$? lines=$(wc -l <hf)"
$PY -m nasiam sweep --config sw.yaml --trials 1 --sweep_dir swd $TINY --warmup_epochs 0 >/dev/null 2>sw.err; echo "SO5 sweep >/dev/null rc=$?"; tail -2 sw.err
$PY -m nasiam compare --seeds 1 $TINY --heads default --out cmp >cmp.out 2>cmp.err; echo "SO6 compare >file rc=$? lines=$(wc -l <cmp.out)"; tail -2 cmp.err
$PY -m nasiam compare --seeds 1 $TINY --heads default --out cmp --report_only >/dev/null 2>r.err; echo "SO7 compare --report_only >/dev/null rc=$?"; tail -2 r.err
$PY -m nasiam compare --seeds 1 $TINY --heads default --out cmp --report_only >r.out 2>r.err; echo "SO8 compare --report_only >file rc=$? lines=$(wc -l <r.out)"
sh -c "$PY -m nasiam compare --seeds 1 $TINY --heads default --out cmp --report_only >&- 2>r.err"; echo "SO9 compare --report_only stdout closed rc=$?"; cat r.err
ls -la cmp | head; 
$PY -m nasiam compare --seeds 1 $TINY --heads default --out cmp --report_only 2>&1 | head -3 >/dev/null; echo "SO10 compare --report_only | head rc=${PIPESTATUS[0]}"
