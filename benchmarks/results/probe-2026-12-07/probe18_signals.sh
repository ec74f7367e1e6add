#!/bin/bash
# probe 18 (h57): M14/M16 by command: SIGINT while nasiam starts (importing torch), SIGTERM as soon
# as an export's export.json appears, SIGINT during eval. Job control on (set -m) so a background
# command does not inherit an ignored SIGINT. Usage: probe18_signals.sh PROBE_DIR
P=$1; cd "$P/w" || exit 1; set -m
ulimit -v 8000000; export PYTHONPATH=$P/new; PY=/work/main/.venv/bin/python
for t in 0.3 1 2.5; do
  rm -rf g1; $PY -m nasiam export runs/s0 --out g1 > g1.log 2>&1 & pid=$!
  sleep $t; kill -INT $pid; wait $pid; rc=$?
  echo "G1 SIGINT at ${t}s: rc=$rc; $(tr '\n' ' ' < g1.log | cut -c1-300); g1: $(ls g1 2>/dev/null | tr '\n' ' ')"
done
for i in 1 2 3; do
  rm -rf g2; $PY -m nasiam export runs/s0 --out g2 > g2.log 2>&1 & pid=$!
  while [ ! -e g2/export.json ] && kill -0 $pid 2>/dev/null; do sleep 0.01; done
  kill -TERM $pid 2>/dev/null; wait $pid; rc=$?
  echo "G2 SIGTERM at export.json #$i: rc=$rc; $(tail -2 g2.log | tr '\n' ' ' | cut -c1-300); g2: $(ls g2 2>/dev/null | tr '\n' ' ')"
done
for t in 8; do
  $PY -m nasiam eval knn runs/s0 --bank_subset 64 --num_workers 0 --batch_size 16 --out ev/g3.json > g3.log 2>&1 & pid=$!
  sleep $t; kill -INT $pid; wait $pid; rc=$?
  echo "G3 eval SIGINT at ${t}s: rc=$rc; $(tail -3 g3.log | tr '\n' ' ' | cut -c1-400); g3.json: $(ls ev/g3.json 2>/dev/null || echo none)"
  $PY -m nasiam eval curves runs/p0 --out ev/g4.png > g4.log 2>&1 & pid=$!
  sleep 6; kill -INT $pid; wait $pid; rc=$?
  echo "G4 eval curves SIGINT at 6s: rc=$rc; $(tail -2 g4.log | tr '\n' ' ' | cut -c1-300)"
done
