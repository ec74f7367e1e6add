#!/bin/bash
# Probe 11 (h41): _is_config_temporary: a user's file named as config.yaml's temporary, in a run
# folder beside (a) an empty .lock, (b) no .lock, (c) a killed run's owner record (pid 999999).
# usage: bash probe11_leftovers.sh TMPDIR
echo 10 > /proc/self/autogroup
ulimit -v 8000000
T=$1; cd "$T/cli" || exit 1
export PYTHONPATH=$T
PY=/work/main/.venv/bin/python
TINY="--dataset synthetic --image_size 16 --batch_size 16 --epochs 1 --subset 64 --knn_subset 64 --num_workers 0"
for k in empty none dead nolock; do
  d=lo/$k; mkdir -p $d; echo "my notes, not yaml" > $d/.config.yaml.0123abcd.nasiam.tmp
  case $k in
    empty) : > $d/.lock;;
    dead) echo "{\"pid\": 999999, \"host\": \"$(hostname)\", \"since\": \"2026-12-07T09:00:00\", \"command\": \"search\"}" > $d/.lock;;
  esac
  timeout 300 $PY -m nasiam search $TINY --warmup_epochs 0 --out_dir lo --run_name $k > lo-$k.txt 2>&1
  echo "LO-$k rc=$? tb=$(grep -c Traceback lo-$k.txt) user file: $(cat $d/.config.yaml.0123abcd.nasiam.tmp 2>&1 | head -c 80) :: $(tail -n 2 lo-$k.txt | cut -c1-300 | tr '\n' ' ')"
done
