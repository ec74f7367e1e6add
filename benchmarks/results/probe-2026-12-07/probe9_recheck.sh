#!/bin/bash
# The ninth probe of issue #33 (h35): the eighth probe's reproduction commands (findings-eighth.md,
# "Reproduction") re-run on main 46cab71. usage: probe9_recheck.sh T setup|a|b
T=$1; shift
D=$(dirname "$(readlink -f "$0")")
. $D/probe9_lib.sh
W=$T/re; mkdir -p $W
for section in "$@"; do case $section in
setup)
  p S0 $NAS search $TINY --warmup_epochs 0 --out_dir $T/runs --run_name s0
  p S1 $NAS pretrain $TINY --out_dir $T/runs --run_name p0 ;;
a)
  cd $W
  # E1: compare.json replaced by a list / removed while the run trains
  ( cd $T/cwd; ulimit -v 8000000; $NAS compare --seeds 1 $TINY --heads default --out $W/cc5 >$T/o/RE1a.out 2>$T/o/RE1a.err; echo "RE1a rc=$? tb=$(grep -c Traceback $T/o/RE1a.err) :: $(tail -c 500 $T/o/RE1a.err | tr '\n' '|')" | tee -a $T/summary.log ) &
  while [ ! -d $W/cc5/runs/default-s0/checkpoints ]; do sleep 0.5; done; echo '[]' > $W/cc5/j && mv $W/cc5/j $W/cc5/compare.json; wait
  echo "RE1a compare.json now: $(head -c 200 $W/cc5/compare.json)" | tee -a $T/summary.log
  ( cd $T/cwd; ulimit -v 8000000; $NAS compare --seeds 1 $TINY --heads default --out $W/cc6 >$T/o/RE1b.out 2>$T/o/RE1b.err; echo "RE1b rc=$? tb=$(grep -c Traceback $T/o/RE1b.err) :: $(tail -c 500 $T/o/RE1b.err | tr '\n' '|')" | tee -a $T/summary.log ) &
  while [ ! -d $W/cc6/runs/default-s0/checkpoints ]; do sleep 0.5; done; rm $W/cc6/compare.json; wait
  echo "RE1b cc6: $(ls $W/cc6)" | tee -a $T/summary.log
  # E2: eval/ a link into another run's heads/
  cp -r $T/runs/s0 $W/s0e && cp -r $T/runs/p0 $W/p0e && rm -r $W/s0e/eval 2>/dev/null; ln -s $W/p0e/heads $W/s0e/eval
  p RE2a $NAS eval knn $W/s0e --num_workers 0; echo "RE2a p0e/heads: $(ls $W/p0e/heads)" | tee -a $T/summary.log
  p RE2b $NAS pretrain $TINY --init $W/p0e --out_dir $W/runs --run_name q ;;
b)
  # E3
  mkdir -p $W/runs/usr2 && echo precious > $W/runs/usr2/.notes.txt.0123abcd.nasiam.tmp
  p RE3a $NAS search $TINY --warmup_epochs 0 --out_dir $W/runs --run_name usr2; echo "RE3a usr2: $(ls -A $W/runs/usr2 | tr '\n' ' ')" | tee -a $T/summary.log
  mkdir -p $W/x/.e4.fedcba987654.partial && echo mine > $W/x/.e4.fedcba987654.partial/notes.txt
  p RE3b $NAS export $T/runs/s0 --out $W/x/e4; echo "RE3b x: $(ls -A $W/x | tr '\n' ' '); notes: $(cat $W/x/.e4.fedcba987654.partial/notes.txt)" | tee -a $T/summary.log
  # E4
  p RE4a $NAS compare --seeds 1 $TINY --heads default --out $W/cc
  ( cd $T/cwd; $NAS compare --seeds 1 $TINY --heads default --report_only --out $W/cc > /dev/full 2>$T/o/RE4b.err; echo "RE4b rc=$? :: $(tail -c 500 $T/o/RE4b.err | tr '\n' '|')" | tee -a $T/summary.log )
  # E5
  p RE5 $PY -c "import math, torch, tempfile; from nasiam import SearchableHead, NASHead, recalibrate_batchnorm; h = NASHead.from_genotype(SearchableHead(16, 8).genotype(), 16); print(recalibrate_batchnorm(h, [torch.full((4, 16), math.nan)])); d = tempfile.mkdtemp(dir='$T'); h.save_pretrained(d); NASHead.from_pretrained(d)"
  # E6
  p RE6 $NAS compare --seeds 1 $TINY --heads "$(printf 'a%.0s' $(seq 1 250))=default" --report_only --out $W/l3
  # E7
  p RE7 $PY -c "import numpy as np; from nasiam import SearchableHead; print(len(SearchableHead(np.int64(16), 8).layers))"
  p RE7b $PY $D/probe8_library.py
  # E8
  ( cd $T/cwd; ulimit -v 8000000; $NAS pretrain $TINY --epochs 3 --seed 0 --out_dir $W/cc7/runs --run_name default-s0 --head default >$T/o/RE8p.out 2>&1 ) &
  while [ ! -f $W/cc7/runs/default-s0/config.yaml ]; do sleep 0.5; done
  p RE8 $NAS compare --seeds 1 $TINY --epochs 3 --heads default --out $W/cc7; wait ;;
esac; done
