#!/bin/bash
# The sixth probe of issue #33 (h27): families 4-8, export, sweep. usage: probe_cli_families_4_8.sh T SECTION...
# T: a mktemp -d folder holding pristine/ (git archive of the code probed); CODE=PATH probes other code.
# Sections in the order run: f5 f6 | f8 f4 | f7 | f4d f5b export sweep | f7b | f8b | verify (CODE=worktree)
T=$1; shift
PY=/work/main/.venv/bin/python
export PYTHONPATH=${CODE:-$T/pristine} PYTHONDONTWRITEBYTECODE=1
NAS="$PY -m nasiam"
TINY="--dataset synthetic --image_size 16 --batch_size 16 --epochs 1 --subset 64 --knn_subset 64 --num_workers 0"
mkdir -p $T/o $T/cwd $T/runs
p() {  # p ID CMD...: run under limits in $T/cwd, one summary line
  local id=$1; shift
  ( ulimit -v 8000000; cd $T/cwd; timeout ${TO:-300} nice -n 5 "$@" ) >$T/o/$id.out 2>$T/o/$id.err
  local rc=$?
  local esc=$(cat $T/o/$id.out $T/o/$id.err | tr -cd '\033\007' | wc -c)
  local tb=$(grep -c Traceback $T/o/$id.err)
  echo "$id rc=$rc rawctl=$esc tb=$tb :: $(tail -c 600 $T/o/$id.err | tr '\n\033\007' '|^^')"
}
for section in "$@"; do case $section in
f5)  # label collisions, planning only
  C="$NAS compare --seeds 1 $TINY --report_only"
  p L1 $C --heads 'paper=default,default=paper' --out $T/l1
  p L2 $C --heads 'x=default,x=paper' --out $T/l2
  h=$(printf '%s' 'a!' | sha1sum | cut -c1-6)
  p L3 $C --heads "a!=default,a-$h=paper" --out $T/l3
  p L4 $C --heads "=default,paper" --out $T/l4
  p L5 $C --heads "$(printf 'y%.0s' $(seq 1 300))=default" --out $T/l5
  p L6 $C --heads 'r=random:1/seed,r-1-s0=paper' --seeds 0, --out $T/l6
  p L7 $C --heads 'default,paper' --reference nope --out $T/l7
  p L8 $C --heads 'search,s=search(--arch_lr=0.01),search-1=paper' --out $T/l8
  ls -R $T/l1 $T/l3 $T/l6 2>/dev/null | head -40 ;;
f4)  # foreign run folders
  mkdir -p $T/elsewhere $T/c4l/runs; ln -s $T/elsewhere $T/c4l/runs/default-s0
  p F4a $NAS compare --seeds 1 $TINY --heads default --out $T/c4l
  echo "F4a elsewhere now holds: $(ls $T/elsewhere | tr '\n' ' ')"
  p F4b $NAS compare --seeds 1 $TINY --heads default --out $T/c4 --lr 0.07
  rm -f $T/c4/compare.json
  p F4c $NAS compare --seeds 1 $TINY --heads default --out $T/c4 --report_only
  grep -o '"lr"[^,]*' $T/c4/compare.json; grep '^lr' $T/c4/runs/default-s0/config.yaml
  cp $T/c4/runs/default-s0/summary.json $T/c4-summary.bak
  $PY - $T/c4/runs/default-s0/summary.json <<'PYX'
import json, sys
p = sys.argv[1]; s = json.load(open(p)); s["knn_top1"] = 99.5
s["environment"]["device_name"] = "\x1b[31mred\x1b]0;pwned\x07"; s["genotypes"] = {"projector": "\x1b[2Jx"}
json.dump(s, open(p, "w"))
PYX
  p F4d $NAS compare --seeds 1 $TINY --heads default --out $T/c4 --report_only --lr 0.07
  echo "F4d results.md ESC count: $(grep -c $'\x1b' $T/c4/results.md 2>/dev/null); 99.5 shown: $(grep -c 99.5 $T/o/F4d.out)"
  cp $T/c4-summary.bak $T/c4/runs/default-s0/summary.json ;;
f6)  # --heads PATH rows
  p G0 $NAS search $TINY --warmup_epochs 0 --out_dir $T/runs --run_name g0
  p G1 $NAS compare --seeds 1 $TINY --heads "own=$T/runs/g0/heads/projector" --out $T/g1 --report_only
  cp $T/runs/g0/genotype.json $T/gA.json; cp $T/runs/g0/genotype.json $T/gB.json; ln -s $T/gA.json $T/glink.json
  p G2 $NAS compare --seeds 1 $TINY --heads "m=$T/glink.json" --out $T/g2 --report_only
  ln -sfn $T/gB.json $T/glink.json
  p G3 $NAS compare --seeds 1 $TINY --heads "m=$T/glink.json" --out $T/g2 --report_only
  mv $T/gA.json $T/gA.gone
  p G4 $NAS compare --seeds 1 $TINY --heads "m=$T/gA.json" --out $T/g2 --report_only
  mkdir -p $T/cwd/sub && cp $T/runs/g0/genotype.json $T/cwd/sub/g.json
  p G5 $NAS compare --seeds 1 $TINY --heads "m=sub/g.json" --out $T/g5 --report_only
  p G6 $NAS compare --seeds 1 $TINY --heads "m=$T/cwd/sub/g.json,n=$T/cwd/sub/./g.json" --out $T/g6 --report_only ;;
f7)  # a failing row
  p H1 $NAS compare --seeds 2 $TINY --heads 'default,x=default(--lr=1e30)' --out $T/h1
  echo "H1 runs: $(ls $T/h1/runs | tr '\n' ' ') summaries: $(ls $T/h1/runs/*/summary.json 2>/dev/null | wc -l)"
  p H1r $NAS compare --seeds 2 $TINY --heads 'default,x=default(--lr=1e30)' --out $T/h1 ;;
f8)  # SIGKILL during the final weight writes, then --resume
  KW_LOG=$T/o/K1.log $PY $(dirname "$0")/kill_when.py $T/runs/k1 '.backbone.safetensors.*' 300 -- $PY -m nasiam search $TINY --warmup_epochs 0 --out_dir $T/runs --run_name k1
  echo "K1 left: $(ls -a $T/runs/k1 | tr '\n' ' ') ckpt: $(ls -a $T/runs/k1/checkpoints 2>/dev/null| tr '\n' ' ')"
  p K1r $NAS search $TINY --warmup_epochs 0 --out_dir $T/runs --run_name k1 --resume
  echo "K1r left: $(ls -a $T/runs/k1 | tr '\n' ' ') tmp: $(find $T/runs/k1 -name '*tmp*' -o -name '*partial*' | tr '\n' ' ')"
  KW_LOG=$T/o/K2.log $PY $(dirname "$0")/kill_when.py $T/runs/k2 '.*.safetensors.*' 300 -- $PY -m nasiam pretrain $TINY --out_dir $T/runs --run_name k2
  echo "K2 left: $(find $T/runs/k2 | tr '\n' ' ')"
  p K2r $NAS pretrain $TINY --out_dir $T/runs --run_name k2 --resume
  echo "K2r tmp: $(find $T/runs/k2 -name '*tmp*' -o -name '*partial*' | tr '\n' ' ') summary: $(test -e $T/runs/k2/summary.json && echo yes)" ;;

f4d)  # a forged summary (score, escape sequences) in an existing comparison
  cp $T/c4/runs/default-s0/summary.json $T/c4-summary.bak
  $PY - $T/c4/runs/default-s0/summary.json <<'PYX'
import json, sys
p = sys.argv[1]; s = json.load(open(p)); s["knn_top1"] = 99.5; s["linear_top1"] = 99.25
s["environment"]["device_name"] = "\x1b[31mred\x1b]0;pwned\x07"; s["genotypes"] = {"projector": "\x1b[2Jx"}
json.dump(s, open(p, "w"))
PYX
  p F4d $NAS compare --seeds 1 $TINY --heads default --out $T/c4 --report_only
  echo "F4d results.md ESC count: $(grep -c $'\x1b' $T/c4/results.md 2>/dev/null); 99.25 shown: $(grep -c 99.2 $T/o/F4d.out)"
  cp $T/c4-summary.bak $T/c4/runs/default-s0/summary.json
  mkdir -p $T/c4/runs/default-s1; cp -a $T/c4/runs/default-s0/. $T/c4/runs/default-s1/
  sed -i 's/^seed: 0/seed: 1/; s/^run_name: default-s0/run_name: default-s1/' $T/c4/runs/default-s1/config.yaml
  p F4e $NAS compare --seeds 2 $TINY --heads default --out $T/c4 --report_only ;;
f7b)
  p H2 $NAS compare --seeds 2 $TINY --heads 'default,x=default(--lr=9000 --weight_decay=10)' --out $T/h2
  echo "H2 runs: $(ls $T/h2/runs | tr '\n' ' ') summaries: $(ls $T/h2/runs/*/summary.json 2>/dev/null | wc -l)"
  grep -i "fail\|exit" $T/o/H2.out | head -5
  p H2r $NAS compare --seeds 2 $TINY --heads 'default,x=default(--lr=9000 --weight_decay=10)' --out $T/h2 ;;
f8b)
  KW_LOG=$T/o/K3.log $PY $(dirname "$0")/kill_when.py $T/runs/k3 '.summary.json.*' 300 -- $PY -m nasiam pretrain $TINY --out_dir $T/runs --run_name k3
  echo "K3 left: $(ls -a $T/runs/k3 | tr '\n' ' ')"
  p K3r $NAS pretrain $TINY --out_dir $T/runs --run_name k3 --resume
  echo "K3r: $(ls -a $T/runs/k3 | tr '\n' ' ')"
  KW_LOG=$T/o/K4.log $PY $(dirname "$0")/kill_when.py $T/runs/k4 '.genotype.json.*' 300 -- $PY -m nasiam search $TINY --warmup_epochs 0 --out_dir $T/runs --run_name k4
  echo "K4 left: $(ls -a $T/runs/k4 | tr '\n' ' ')"
  p K4r $NAS search $TINY --warmup_epochs 0 --out_dir $T/runs --run_name k4 --resume
  echo "K4r: $(ls -a $T/runs/k4 | tr '\n' ' ') tmp: $(find $T/runs/k4 -name '*.tmp' | wc -l)"
  p K4e $NAS export $T/runs/k4 --out $T/k4x ;;
verify)  # the fixed code (CODE=worktree) on the probes that found defects
  rm -rf $T/v4; cp -a $T/c4 $T/v4; rm -f $T/v4/compare.json $T/v4/.lock
  rm -rf $T/v4/runs/default-s1
  p V1 $NAS compare --seeds 1 $TINY --heads default --out $T/v4 --report_only
  p V1b $NAS compare --seeds 1 $TINY --heads default --out $T/v4 --report_only --lr 0.07
  $PY - $T/v4/runs/default-s0/summary.json <<'PYX'
import json, sys
p = sys.argv[1]; s = json.load(open(p)); s["environment"]["device_name"] = "\x1b[31mred\x1b]0;pwned\x07"
json.dump(s, open(p, "w"))
PYX
  p V2 $NAS compare --seeds 1 $TINY --heads default --out $T/v4 --report_only --lr 0.07
  p V3 $NAS compare --heads default --seeds 1 --out "$T/c"$'\x1b[2J' --report_only $TINY
  p V4 $NAS search $TINY --warmup_epochs 0 --out_dir "$T/o"$'\x1b]0;pwn\x07' --run_name esc
  p V5 $NAS eval knn random --dataset synthetic --image_size 100000 --num_workers 0 --out $T/v5.json
  p V6 $NAS export $T/runs/k2 --out $T/v6
  for w in w5 w6 w7 w8; do TO=60 p V-$w $NAS sweep --config $T/ok.yaml --trials 1 --sweep_dir $T/sw --name $w; done
  ls -a $T | grep -c $'\x1b' ;;
export)  # export refusals on a finished search run (k1) and a pretrain run (k2)
  ln -sfn $T/runs/k1 $T/k1link
  p X1 $NAS export $T/runs/k1 --out $T/k1link/sub
  p X2 $NAS export $T/runs/k2 --out $T/x2
  p X3 $NAS export $T/runs/k1 --checkpoint $T/runs/k2/checkpoints/last.ckpt --out $T/x3
  mkfifo $T/fifo.ckpt 2>/dev/null
  TO=60 p X4 $NAS export $T/runs/k1 --checkpoint $T/fifo.ckpt --out $T/x4
  p X5 $NAS export $T/runs/k1 --out $T/x5 --rank 50
  p X6 $NAS export $T/runs/k1 --out $T/x6 --rank 2
  p X7 $NAS export $T/runs/k1 --out $T/runs/k1/heads/projector/x
  ls -a $T | grep -c partial ;;
sweep)
  cat > $T/typo.yaml <<Y
method: random
metric: {name: knn_top, goal: maximize}
parameters:
  arch_lr: {values: [0.01, 0.02]}
  dataset: {value: synthetic}
  subset: {value: 64}
  knn_subset: {value: 64}
  image_size: {value: 16}
  batch_size: {value: 16}
  epochs: {value: 1}
  warmup_epochs: {value: 0}
  num_workers: {value: 0}
Y
  start=$(date +%s); p W1 $NAS sweep --config $T/typo.yaml --trials 1 --sweep_dir $T/sw; echo "W1 took $(( $(date +%s) - start )) s; trials: $(ls $T/sw/typo/trials 2>/dev/null | tr '\n' ' ')"
  sed 's/knn_top,/knn_top1,/' $T/typo.yaml > $T/ok.yaml
  mkdir -p $T/sw/w5 && echo 'not a database at all, just text' > $T/sw/w5/optuna.db
  p W5 $NAS sweep --config $T/ok.yaml --trials 1 --sweep_dir $T/sw --name w5
  mkdir -p $T/sw/w6 && mkfifo $T/sw/w6/optuna.db
  TO=60 p W6 $NAS sweep --config $T/ok.yaml --trials 1 --sweep_dir $T/sw --name w6
  mkdir -p $T/sw/w7 && head -c 4096 /dev/zero > $T/sw/w7/optuna.db
  p W7 $NAS sweep --config $T/ok.yaml --trials 1 --sweep_dir $T/sw --name w7
  mkdir -p $T/sw/w8 && ln -s /dev/zero $T/sw/w8/optuna.db
  TO=60 p W8 $NAS sweep --config $T/ok.yaml --trials 1 --sweep_dir $T/sw --name w8 ;;
f5b)
  C="$NAS compare --seeds 1 $TINY --report_only"
  p L9 $C --heads "$(printf 'z%.0s' $(seq 1 65))=default" --out $T/l9
  h=$(printf '%s' 'a+' | sha1sum | cut -c1-6)
  p L10 $C --heads "a+=default,a-$h=paper" --out $T/l10
  p L11 $C --heads "a:b=default,a+b=paper" --out $T/l11
  ls $T/l11/runs 2>/dev/null; grep -o '"run": "[^"]*"' $T/l11/results.json | head ;;
esac; done
