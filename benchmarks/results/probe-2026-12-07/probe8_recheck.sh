#!/bin/bash
# The eighth probe of issue #33 (h32): the seventh probe's reproduction commands (findings-seventh.md,
# "Reproduction") re-run on main b00c3f8. usage: probe8_recheck.sh T half1|half2 (after probe8_cli.sh T setup)
T=$1; shift
D=$(dirname "$(readlink -f "$0")")
. $D/probe8_lib.sh
W=$T/re; mkdir -p $W; cp -r $T/runs/s0 $T/runs/p0 $W/ 2>/dev/null
R="--out_dir $W"
for section in "$@"; do case $section in
half1)
  # D1: a user's folder, a finished run without checkpoints/, an export folder as --run_name
  mkdir -p $W/mine && echo "my own numbers" > $W/mine/alphas.csv
  p RD1a $NAS search $TINY --warmup_epochs 0 $R --run_name mine; echo "RD1a alphas.csv: $(cat $W/mine/alphas.csv | head -c 60)"
  cp -r $W/s0 $W/s0c && rm -r $W/s0c/checkpoints; sha256sum $W/s0c/summary.json > $T/o/RD1b.sha
  p RD1b $NAS search $TINY --warmup_epochs 0 --seed 7 $R --run_name s0c; sha256sum -c $T/o/RD1b.sha | tee -a $T/summary.log
  p RD1c0 $NAS export $W/s0 --out $W/e
  p RD1c $NAS search $TINY --warmup_epochs 0 $R --run_name e
  p RD1d $NAS search $TINY --warmup_epochs 0 --resume $W/e
  # D2: --out inside another run
  p RD2a $NAS export $W/s0 --out $W/p0/heads/extra
  p RD2b $NAS pretrain $TINY --init $W/p0 $R --run_name q
  p RD2c $NAS eval knn $W/s0 --num_workers 0 --out $W/p0/heads/knn.json
  p RD2d $NAS compare --seeds 1 $TINY --heads default --report_only --out $W/p0/heads
  # D4, D8: images
  $PY $D/probe7_images.py $T/img/ztxt ztxt; $PY $D/probe7_images.py $T/img/nfd nfd
  IMG="--dataset imagefolder --image_size 16 --batch_size 4 --epochs 1 --num_workers 0 --warmup_epochs 0"
  p RD4 $NAS search $IMG --data_root $T/img/ztxt $R --run_name z
  p RD8 $NAS search $IMG --data_root $T/img/nfd $R --run_name n
  # D9
  p RD9a $PY -c "from nasiam import SearchableHead; print(len(SearchableHead(16, 8, output_layer='no').layers))"
  p RD9b $PY -c "from nasiam import SearchableHead; SearchableHead(16, 8, output_norm=None)"
  p RD9c $PY -c "from nasiam import SearchableHead; SearchableHead(16,8).genotype(meta='text')"
  p RD9d $PY -c "from nasiam import from_pretrained; from_pretrained(123)" ;;
half2)
  cd $W
  # D3: a planted log link / FIFO
  mkdir -p $W/c/logs && echo precious > $W/outside.txt && ln -s $W/outside.txt $W/c/logs/default-s0.log
  p RD3a $NAS compare --seeds 1 $TINY --heads default --out $W/c; echo "RD3a outside.txt: $(cat $W/outside.txt | wc -l) lines" | tee -a $T/summary.log
  mkdir -p $W/c2/logs && mkfifo $W/c2/logs/default-s0.log
  TO=200 p RD3b $NAS compare --seeds 1 $TINY --heads default --out $W/c2
  # D7: a closed pipe; results.md a folder
  ( ulimit -v 8000000; cd $T/cwd; $NAS compare --seeds 1 $TINY --heads default --report_only --out $W/c | head -c 1 >/dev/null; echo "RD7a rc=${PIPESTATUS[0]}" ) 2>$T/o/RD7a.err | tee -a $T/summary.log; tail -c 300 $T/o/RD7a.err
  rm -f $W/c/results.md; mkdir $W/c/results.md
  p RD7b $NAS compare --seeds 1 $TINY --heads default --report_only --out $W/c
  # D5: a killed export's .partial, then the export again; a killed eval knn's temporary, then again
  ( cd $W; $PY $D/kill_when.py $W '.e12.*/backbone*' 120 -- $NAS export $W/s0 --out $W/e12 ) | tee -a $T/summary.log
  echo "RD5 before: $(ls -a $W | grep e12 | tr '\n' ' ')" | tee -a $T/summary.log
  p RD5a $NAS export $W/s0 --out $W/e12
  echo "RD5a after: $(ls -a $W | grep e12 | tr '\n' ' ')" | tee -a $T/summary.log
  ( cd $W; $PY $D/kill_when.py $W/p0/eval '.knn*' 120 -- $NAS eval knn $W/p0 --num_workers 0 ) | tee -a $T/summary.log
  echo "RD5 eval before: $(ls -a $W/p0/eval 2>/dev/null| tr '\n' ' ')" | tee -a $T/summary.log
  p RD5b $NAS eval knn $W/p0 --num_workers 0
  echo "RD5b eval after: $(ls -a $W/p0/eval | tr '\n' ' ')" | tee -a $T/summary.log
  # D10: SIGKILL at the epoch-2 checkpoint's temporary, then --resume
  ( cd $W; $PY $D/kill_when.py $W/k5 '.epoch=2.ckpt.*' 400 -- $NAS pretrain $TINY --epochs 2 $R --run_name k5 ) | tee -a $T/summary.log
  ( cd $W; $PY $D/kill_when.py $W/k5 '.last.ckpt.*' 400 -- $NAS pretrain $TINY --epochs 2 $R --run_name k5 --resume $W/k5 ) >/dev/null
  p RD10 $NAS pretrain $TINY --epochs 2 $R --resume $W/k5
  echo "RD10 checkpoints: $(ls -a $W/k5/checkpoints | tr '\n' ' ')" | tee -a $T/summary.log
  # D6: a SIGKILLed compare driver, then the same compare again
  ( cd $W; $PY $D/kill_when.py $W/k4/runs/default-s0/checkpoints '*' 300 -- $NAS compare --seeds 1 $TINY --epochs 3 --heads default --out $W/k4 ) | tee -a $T/summary.log
  sleep 2; echo "RD6 orphans: $(pgrep -f "$W/k4/runs" | tr '\n' ' ')" | tee -a $T/summary.log
  p RD6 $NAS compare --seeds 1 $TINY --epochs 3 --heads default --out $W/k4 ;;
esac; done
# D1's third command again: the first try met half2's export of the same run (RD1c0 refused on its lock), so
# RD1c ran where no export was (void) and RD1d resumed that finished run (void)
for section in "$@"; do case $section in
half3)
  p RD1e0 $NAS export $W/s0 --out $W/ex2
  p RD1e $NAS search $TINY --warmup_epochs 0 $R --run_name ex2
  p RD1f $NAS search $TINY --warmup_epochs 0 --resume $W/ex2 ;;
esac; done
