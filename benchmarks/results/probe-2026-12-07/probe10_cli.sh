#!/bin/bash
# The tenth probe of issue #33 (h38): command lines that train (or may), one at a time.
# usage: probe10_cli.sh T SECTION...   T: a mktemp -d folder holding code/ (git archive of main), runs/s0, runs/p0
T=$1; shift
D=$(dirname "$(readlink -f "$0")")
. $D/probe10_lib.sh
N=$T/n; mkdir -p $N $T/img
IMG="--dataset imagefolder --image_size 16 --batch_size 4 --epochs 1 --num_workers 0 --warmup_epochs 0 --knn_subset 16"
mkimg() { [ -d $T/img/$1 ] || (cd $T/img && $PY $D/probe10_images.py $T/img/$1 $1); }
for section in "$@"; do case $section in
img-fast)  # family 1: folders refused before training, or quickly
  for k in loopfile trainlink ipynb zeroimg pngwide pnghuge; do
    mkimg $k; p I-$k $NAS search $IMG --data_root $T/img/$k --out_dir $N/ir --run_name $k
  done ;;
img-train)  # family 1: folders that should train
  for k in ${KINDS:-onecls modes2 badutf8cls nlcls dirpng lowlink}; do
    mkimg $k; p I-$k $NAS search $IMG --data_root $T/img/$k --out_dir $N/ir --run_name $k
    grep -l -P '\x1b' -r $N/ir/$k 2>/dev/null | head -3
  done ;;
rowfail)  # family 7: a row failing with exit 2 for its own data (a refused image read mid-epoch), before the default row
  mkimg pnghuge
  p R1 $NAS compare --seeds 1 $TINY --heads "x=default(--dataset=imagefolder --data_root=$T/img/pnghuge --batch_size=4 --knn_subset=16 --subset=16)",default --out $N/rf
  echo "R1 runs: $(ls $N/rf/runs 2>&1 | tr '\n' ' ')" | tee -a $T/summary.log ;;
cmpterm)  # family 7/8: a run of a two-row comparison SIGTERMed from outside (not by the driver: a user, a scheduler), then the same command
  ( cd $T/cwd; ulimit -v 8000000; $NAS compare --seeds 1 $TINY --heads default,paper --out $N/ct >$T/o/CT1.out 2>$T/o/CT1.err; echo "CT1 rc=$? tb=$(grep -c Traceback $T/o/CT1.err) :: $(tail -c 900 $T/o/CT1.err | tr '\n' '|')" | tee -a $T/summary.log ) &
  while [ ! -e $N/ct/runs/default-s0/config.yaml ]; do sleep 0.5; done; sleep 3   # training has begun
  pid=$(pgrep -f -- "--out_dir=$N/ct/runs --run_name=default-s0" | head -1)   # this probe's own run, by its id
  [ -n "$pid" ] && kill -TERM $pid && echo "CT1: SIGTERM sent to default-s0 (pid $pid)" | tee -a $T/summary.log; wait
  echo "CT1 runs: $(ls $N/ct/runs | tr '\n' ' '); default-s0: $(ls $N/ct/runs/default-s0 | tr '\n' ' '); its log: $(tail -c 300 $N/ct/logs/default-s0.log | tr '\n' '|')" | tee -a $T/summary.log
  p CT2 $NAS compare --seeds 1 $TINY --heads default,paper --out $N/ct ;;
reportkill)  # family 8: SIGKILL the compare driver while it writes its report, then the same command
  KW_LOG=$T/o/RK1.log $PY $D/kill_when.py $N/rk '.results*' 900 -- $NAS compare --seeds 1 $TINY --heads default --out $N/rk | tee -a $T/summary.log
  echo "RK1 rk: $(ls -A $N/rk | tr '\n' ' ')" | tee -a $T/summary.log
  p RK2 $NAS compare --seeds 1 $TINY --heads default --out $N/rk
  echo "RK2 rk: $(ls -A $N/rk | tr '\n' ' ')" | tee -a $T/summary.log ;;
damaged)  # family 9: a bit-flipped checkpoint, a truncated summary.json / compare.json
  rm -rf $N/f9 && mkdir -p $N/f9 && cp -r $T/runs/s0 $N/f9/flip && cp -r $T/runs/s0 $N/f9/trsum
  $PY -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); i=len(b)//2; b[i:i+64]=bytes(x^0xff for x in b[i:i+64]); open(p,'wb').write(b)" $N/f9/flip/checkpoints/last.ckpt
  p D1 $NAS export $N/f9/flip --out $N/f9/x1
  p D2 $NAS search $TINY --warmup_epochs 0 --resume $N/f9/flip
  head -c 100 $T/runs/s0/summary.json > $N/f9/trsum/summary.json
  p D3 $NAS export $N/f9/trsum --out $N/f9/x3
  p D4 $NAS pretrain $TINY --init $N/f9/trsum --out_dir $N/f9 --run_name d4 ;;
export2)  # families 2/3: two exports of two runs to one --out at once
  ( cd $T/cwd; $NAS export $T/runs/s0 --out $N/e2/same >$T/o/E2a.out 2>$T/o/E2a.err; echo "E2a rc=$? :: $(tail -c 400 $T/o/E2a.err | tr '\n' '|')" | tee -a $T/summary.log ) &
  ( cd $T/cwd; $NAS export $T/runs/s0b --out $N/e2/same >$T/o/E2b.out 2>$T/o/E2b.err; echo "E2b rc=$? :: $(tail -c 400 $T/o/E2b.err | tr '\n' '|')" | tee -a $T/summary.log ) &
  wait; echo "E2 e2: $(ls -A $N/e2 | tr '\n' ' '); same: $(ls -A $N/e2/same | tr '\n' ' '); export.json source: $(grep -o '"run[^,]*' $N/e2/same/export.json | head -2 | tr '\n' ' ')" | tee -a $T/summary.log ;;
deathkill)  # compare's parent-death signal, probed: SIGKILL the driver once its run's last.ckpt is written (the run then
  # evaluates and writes its outputs), the orphan's end read from its log, then the same command again
  KW_LOG=$T/o/DK1.log $PY $D/kill_when.py $N/dk/runs 'last.ckpt' 900 -- $NAS compare --seeds 1 $TINY --heads default --out $N/dk | tee -a $T/summary.log
  for i in $(seq 1 240); do pgrep -f -- "--out_dir=$N/dk/runs" >/dev/null || break; sleep 1; done
  echo "DK1 orphan gone after ${i}s; default-s0: $(ls $N/dk/runs/default-s0 | tr '\n' ' '); log tail: $(tail -c 400 $N/dk/logs/default-s0.log | tr '\n' '|')" | tee -a $T/summary.log
  p DK2 $NAS compare --seeds 1 $TINY --heads default --out $N/dk ;;
initx)  # family 3: pretrain --init on an export (n/f9/x1) missing a part; accepted = config.yaml written (then SIGKILLed: no training needed)
  X=$N/f9/x1
  for k in nopred noexportjson swapped extrafile; do
    rm -rf $N/ix/$k; mkdir -p $N/ix; cp -r $X $N/ix/$k
    case $k in
      nopred) rm -r $N/ix/$k/heads/predictor ;;
      noexportjson) rm $N/ix/$k/export.json ;;
      swapped) cp $N/ix/$k/heads/predictor/head.safetensors $N/ix/$k/heads/projector/head.safetensors ;;
      extrafile) echo mine > $N/ix/$k/heads/projector/notes.txt ;;
    esac
    ( cd $T/cwd; ulimit -v 8000000; KW_LOG=$T/o/IX-$k.log $PY $D/kill_when.py $N/ix/runs/$k 'config.yaml' 1200 -- $NAS pretrain $TINY --init $N/ix/$k --out_dir $N/ix/runs --run_name $k ) > $T/o/IX-$k.kw
    echo "IX-$k $(cat $T/o/IX-$k.kw) :: $(grep -v Warning $T/o/IX-$k.log | tail -c 400 | tr '\n' '|')" | tee -a $T/summary.log
  done ;;
damaged2)  # D1/D2 again with the flip where the exported weights live: 64 bytes at 5 % of last.ckpt (D1's 50 % hit an unchosen branch)
  rm -rf $N/f9/flip2 $N/f9/x1c && cp -r $T/runs/s0 $N/f9/flip2
  $PY -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); i=len(b)//20; b[i:i+64]=bytes(x^0xff for x in b[i:i+64]); open(p,'wb').write(b)" $N/f9/flip2/checkpoints/last.ckpt
  p D1c $NAS export $N/f9/flip2 --out $N/f9/x1c
  p D2c $NAS search $TINY --warmup_epochs 0 --resume $N/f9/flip2
  $PY - $T <<'PY' | tee -a $T/summary.log
import sys, torch
from safetensors.torch import load_file
T = sys.argv[1]
for name in ("backbone.safetensors", "heads/projector/head.safetensors", "heads/predictor/head.safetensors"):
    a = load_file(f"{T}/runs/s0/{name}")
    for where in ("n/f9/x1c", "n/f9/flip2"):
        try:
            b = load_file(f"{T}/{where}/{name}")
        except Exception as e:
            print(f"D12c {where}/{name}: {type(e).__name__}"); continue
        diff = [k for k in a if not torch.equal(a[k], b[k])]
        print(f"D12c {where}/{name} vs runs/s0's: {len(diff)} tensors differ {diff[:2]}"
              + (f", max |change| {max(float((a[k] - b[k]).abs().max()) for k in diff):.3g}" if diff else ""))
PY
  ;;
esac; done
