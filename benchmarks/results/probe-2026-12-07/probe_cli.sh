#!/bin/bash
# CLI probes. usage: probe_cli.sh T SECTION...
T=$1; shift
S=/tmp/h23-scripts
PY=/work/main/.venv/bin/python
export PYTHONPATH=${CODE:-$T/pristine} PYTHONDONTWRITEBYTECODE=1
NAS="$PY -m nasiam"
TINY="--dataset synthetic --image_size 16 --batch_size 16 --epochs 1 --subset 64 --knn_subset 64 --num_workers 0"
mkdir -p $T/o $T/cwd $T/runs
p() {  # p ID CMD...: run under limits in $T/cwd, one summary line
  local id=$1; shift
  ( ulimit -v 8000000; cd $T/cwd; timeout ${TO:-180} nice -n 5 "$@" ) >$T/o/$id.out 2>$T/o/$id.err
  local rc=$?
  local esc=$(cat $T/o/$id.out $T/o/$id.err | tr -cd '\033\007' | wc -c)
  local tb=$(grep -c Traceback $T/o/$id.err)
  echo "$id rc=$rc rawctl=$esc tb=$tb :: $(tail -c 500 $T/o/$id.err | tr '\n\033\007' '|^^')"
}
for section in "$@"; do case $section in
base)
  p A1 $NAS search $TINY --warmup_epochs 0 --out_dir $T/runs --run_name s1
  p A2 $NAS search $TINY --warmup_epochs 0 --space mlp --widths 16,32 --out_dir $T/runs --run_name s2
  p A3 $NAS pretrain $TINY --out_dir $T/runs --run_name p1 ;;
ctl)   # control characters in paths the CLI echoes (family 11)
  p B1 $NAS export "$T/r"$'\x1b[2J'"x" --out $T/e1
  p B2 $NAS search $TINY --warmup_epochs 0 --resume="$T/runs/"$'\x1b[2J'"nope"
  mkdir -p "$T/runs/"$'\x1b]0;t\x07'"d"
  p B2b $NAS search $TINY --warmup_epochs 0 --resume="$T/runs/"$'\x1b]0;t\x07'"d"
  p B3 $NAS search $TINY --warmup_epochs 0 --out_dir "$T/o"$'\x1b]0;pwn\x07' --run_name esc
  p B4 $NAS eval knn "$T/"$'\x1b[2J'"x"
  p B5 $NAS search $'\x1b[2J'
  p B5b $NAS search --$'\x1b[2J'=1
  p B6 $NAS compare --heads default --seeds 1 --out "$T/c"$'\x1b[2J' --report_only $TINY
  p B7 $NAS sweep --config $T/pristine/recipes/sweeps/cpu_smoke.yaml --name $'\x1b[2Jx' --sweep_dir $T/sw --trials 1
  p B8 $NAS push "$T/"$'\x1b[2J' --repo a/b
  p B9 $NAS search $TINY --warmup_epochs 0 --dataset imagefolder --data_root "$T/"$'\x1b[2J'"data" ;;
eval)
  sha() { sha256sum "$1" | cut -c1-12; }
  echo "E1 before: summary $(sha $T/runs/p1/summary.json) config $(sha $T/runs/p1/config.yaml)"
  p E1 $NAS eval knn $T/runs/p1 --out $T/runs/p1/summary.json --num_workers 0
  p E2 $NAS eval curves $T/runs/p1 --out $T/runs/p1/config.yaml
  echo "E1/E2 after: summary $(sha $T/runs/p1/summary.json) config $(sha $T/runs/p1/config.yaml)"
  mkdir -p $T/dmg1 && echo '[1, 2]' > $T/dmg1/summary.json
  p E3 $NAS eval curves $T/dmg1 --out $T/cwd/c.png
  mkdir -p $T/dmg2 && echo '{"epochs": [1, 2]}' > $T/dmg2/summary.json
  p E3b $NAS eval curves $T/dmg2 --out $T/cwd/c2.png
  mkdir -p $T/dmg3 && printf '\xff\xfe{}' > $T/dmg3/summary.json
  p E3c $NAS eval curves $T/dmg3 --out $T/cwd/c3.png
  p E4 $NAS eval knn $T/runs/s1 --device bogus --num_workers 0
  p E5 $NAS eval knn random --dataset synthetic --image_size 100000 --num_workers 0
  p E6 $NAS eval knn random --dataset synthetic --seed 99999999999999999999999 --num_workers 0
  p E7 $NAS eval linear $T/runs/s1 --bank_subset 3 --num_workers 0 ;;
export)
  ln -sfn $T/runs/s1 $T/s1link
  p X1 $NAS export $T/runs/s1 --out $T/s1link/sub
  p X2 $NAS export $T/runs/s1 --out "$T/ex"$'\x1b[2J'
  p X3 $NAS export $T/runs/p1 --out $T/xp
  p X4 $NAS export $T/runs/s1 --checkpoint $T/runs/s2/checkpoints/last.ckpt --out $T/x4
  mkfifo $T/fifo.ckpt 2>/dev/null
  TO=40 p X5 $NAS export $T/runs/s1 --checkpoint $T/fifo.ckpt --out $T/x5
  p X7 $NAS export $T/runs/s1 --out $T/x7 --rank 50
  p X8a $NAS export $T/runs/s1 --out $T/x8
  mkdir -p $T/x8/heads/evil && cp $T/x8/heads/projector/* $T/x8/heads/evil/
  p X8 $NAS pretrain $TINY --init $T/x8 --out_dir $T/runs --run_name pinit_evil
  # SIGUSR1 (SLURM's warning signal) while the export writes
  rm -rf $T/x6
  ( cd $T/cwd; nice -n 5 $NAS export $T/runs/s1 --out $T/x6 >$T/o/X6.out 2>$T/o/X6.err & pid=$!
    for i in $(seq 1 3000); do ls -a $T | grep -q '^\.x6\..*partial' && break; sleep 0.01; done
    sleep 0.2; kill -USR1 $pid; wait $pid; echo "X6 rc=$? partial_left=$(ls -a $T | grep -c '^\.x6\.') out_exists=$(test -e $T/x6 && echo yes || echo no) :: $(tail -c 300 $T/o/X6.err | tr '\n' '|')" ) ;;
image)
  $PY $S/mkimg.py $T/img
  IMG="--dataset imagefolder --image_size 16 --batch_size 4 --epochs 1 --num_workers 0 --knn_subset 16"
  for c in emptyval trunc classlink txtclass case leak aspect; do p I-$c $NAS search $IMG --warmup_epochs 0 --data_root $T/img/$c --out_dir $T/runs --run_name img-$c; done
  p I-file $NAS search $IMG --warmup_epochs 0 --data_root $T/img/plain/train/a/0.png --out_dir $T/runs --run_name img-file
  p I-siam-dp $NAS search $IMG --warmup_epochs 0 --data_root $T/img/plain --predictor directpred --out_dir $T/runs --run_name img-dp ;;
push)
  export HF_HUB_OFFLINE=1
  p H1 $NAS push $T/runs/s1 --repo a/b --revision $'\x1b[2J'
  p H2 $NAS push $T/runs/s1 --repo 'a/b c'
  p H3 $NAS push $T/cwd/nonexist --repo a/b
  p H4 $NAS push --help
  TO=90 p H5 $NAS push $T/runs/s1 --repo a/b
  p H6 $NAS push $T/runs/p1 --repo a/b --revision ../../x ;;
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
  start=$(date +%s); p W1 $NAS sweep --config $T/typo.yaml --trials 2 --sweep_dir $T/sw; echo "W1 took $(( $(date +%s) - start )) s; trial dirs: $(ls $T/sw/typo/trials 2>/dev/null | tr '\n' ' ')"
  touch $T/swfile
  p W2 $NAS sweep --config $T/typo.yaml --trials 1 --sweep_dir $T/swfile
  p W3 $NAS sweep --config $T/typo.yaml --trials 1 --sweep_dir $T/sw --name ' '
  mkdir -p $T/sw/w5 && echo 'not a database at all, just text' > $T/sw/w5/optuna.db
  p W5 $NAS sweep --config $T/typo.yaml --trials 1 --sweep_dir $T/sw --name w5
  mkdir -p $T/sw/w6 && mkfifo $T/sw/w6/optuna.db
  TO=40 p W6 $NAS sweep --config $T/typo.yaml --trials 1 --sweep_dir $T/sw --name w6 ;;
compare)
  C="$NAS compare --seeds 1 $TINY"
  p C1 $C --heads 'default,d2=default(--epochs=2)' --out $T/c1
  p C2 $C --heads 'default,d2=default(--epochs=3)' --out $T/c1
  rm -f $T/c1/compare.json
  p C2b $C --heads 'default,d2=default(--epochs=3)' --out $T/c1 --report_only
  p C4 $C --heads 'd=default(--epochs=2 --epochs=3)' --out $T/c4 --report_only
  p C5 $C --heads 'default,d=default(--dataset=fashion_mnist)' --out $T/c5 --report_only
  p C6 $C --heads 'default,d=default(--knn_k=1)' --out $T/c6 --report_only
  h=$(printf '%s' 'default(--epochs=2)' | sha1sum | cut -c1-6)
  p C9 $C --heads "default(--epochs=2),default-epochs-2-$h=paper" --out $T/c9 --report_only
  p C11 $C --heads "mine=$T/runs/s1/heads/projector" --out $T/c11 --report_only
  p C7a $C --heads default --out $T/c7 --lr 0.1
  rm -f $T/c7/compare.json
  p C7b $C --heads default --out $T/c7 --report_only
  grep -o '"lr"[^,]*' $T/c7/compare.json; grep '^lr' $T/c7/runs/default-s0/config.yaml
  # a damaged summary with escape sequences in its strings (family 9)
  cp $T/c1/runs/default-s0/summary.json $T/c1-summary.bak
  $PY - $T/c1/runs/default-s0/summary.json <<'PYX'
import json, sys
p = sys.argv[1]; s = json.load(open(p)); s["heads"] = {k: "\x1b[2J\x1b]0;pwned\x07" + str(v) for k, v in s["heads"].items()}
s["environment"]["device_name"] = "\x1b[31mred"; json.dump(s, open(p, "w"))
PYX
  p C13 $NAS compare --seeds 1 $TINY --heads 'default,d2=default(--epochs=2)' --out $T/c1 --report_only
  grep -c $'\x1b' $T/c1/results.md
  cp $T/c1-summary.bak $T/c1/runs/default-s0/summary.json
  p C12 $C --heads 'default,x=default(--lr=9000 --weight_decay=10)' --out $T/c12 ;;
kill)
  KW_LOG=$T/o/K1.log $PY $S/kill_when.py $T/runs/k1 '.backbone.safetensors.*' 300 -- $PY -m nasiam search $TINY --warmup_epochs 0 --out_dir $T/runs --run_name k1
  ls -la $T/runs/k1 | head -30
  p K1r $NAS search $TINY --warmup_epochs 0 --out_dir $T/runs --run_name k1 --resume
  ls -a $T/runs/k1 | tr '\n' ' '; echo
  KW_LOG=$T/o/K2.log $PY $S/kill_when.py $T/runs/k2 '.head.safetensors.*' 300 -- $PY -m nasiam pretrain $TINY --out_dir $T/runs --run_name k2
  p K2r $NAS pretrain $TINY --out_dir $T/runs --run_name k2 --resume
  find $T/runs/k2 -name '*.tmp' | head ;;
sigs)
  cat > $T/ok.yaml <<Y
method: random
metric: {name: knn_top1, goal: maximize}
parameters:
  arch_lr: {values: [0.01, 0.02, 0.03]}
  dataset: {value: synthetic}
  subset: {value: 128}
  knn_subset: {value: 64}
  image_size: {value: 16}
  batch_size: {value: 16}
  epochs: {value: 3}
  warmup_epochs: {value: 0}
  num_workers: {value: 0}
Y
  ( cd $T/cwd; nice -n 5 $NAS sweep --config $T/ok.yaml --trials 3 --sweep_dir $T/sw2 >$T/o/W4.out 2>$T/o/W4.err & pid=$!
    for i in $(seq 1 600); do test -e $T/sw2/ok/trials/trial-0/checkpoints && break; sleep 0.1; done
    sleep 1; kill -TERM $pid; t0=$(date +%s)
    for i in $(seq 1 1200); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
    alive=$(kill -0 $pid 2>/dev/null && echo alive || echo ended); kill -KILL $pid 2>/dev/null; wait $pid; rc=$?
    echo "W4 SIGTERM to sweep: $alive after $(( $(date +%s) - t0 )) s, rc=$rc, trials: $(ls $T/sw2/ok/trials | tr '\n' ' ') :: $(tail -c 400 $T/o/W4.err | tr '\n' '|')" )
  ( cd $T/cwd; nice -n 5 $NAS compare --seeds 1 --heads default $TINY --epochs 6 --subset 256 --out $T/cu1 >$T/o/CU1.out 2>$T/o/CU1.err & pid=$!
    for i in $(seq 1 600); do test -e $T/cu1/runs/default-s0/.lock && break; sleep 0.1; done
    sleep 2; rpid=$(python3 -c "import json;print(json.load(open('$T/cu1/runs/default-s0/.lock'))['pid'])" 2>/dev/null)
    kill -USR1 $pid; sleep 3; wait $pid; rc=$?
    echo "CU1 SIGUSR1 to compare driver: rc=$rc; its run pid $rpid $(kill -0 $rpid 2>/dev/null && echo STILL RUNNING || echo ended) :: $(tail -c 300 $T/o/CU1.err | tr '\n' '|')"
    for i in $(seq 1 300); do kill -0 $rpid 2>/dev/null || break; sleep 0.2; done
    echo "CU1 run $rpid after wait: $(kill -0 $rpid 2>/dev/null && echo running || echo ended); summary: $(test -e $T/cu1/runs/default-s0/summary.json && echo written || echo none)" ) ;;
space)
  p SP1 $NAS search $TINY --warmup_epochs 0 --predictor_layers 2 --out_dir $T/runs --run_name sp1
  p SP2 $NAS search $TINY --warmup_epochs 0 --widths 16,32 --out_dir $T/runs --run_name sp2
  grep -o '"genotypes": {[^}]*}' $T/runs/sp2/summary.json | head -2
  p SP4 $NAS search $TINY --warmup_epochs 0 --space mlp --widths 16,16 --out_dir $T/runs --run_name sp4
  p SP5 $NAS search $TINY --warmup_epochs 0 --space mlp --widths 16,32 --norms batchnorm,batchnorm --out_dir $T/runs --run_name sp5
  p SP5b $NAS search $TINY --warmup_epochs 0 --space mlp --widths 16,32 --norms batchnorm_noaffine --out_dir $T/runs --run_name sp5b
  p SP6 $NAS search $TINY --warmup_epochs 0 --framework simclr --predictor_layers 2 --out_dir $T/runs --run_name sp6
  p SP8 $NAS pretrain $TINY --head $T/runs/s1 --framework simclr --out_dir $T/runs --run_name sp8
  p SP9 $NAS pretrain $TINY --init $T/runs/s1 --framework mocov3 --out_dir $T/runs --run_name sp9
  p SP10 $NAS search $TINY --warmup_epochs 0 --below_noise prior --strategy tpe --genotype_trials 2 --trial_batches 1 --out_dir $T/runs --run_name sp10
  grep -o '"selection": {[^}]*}' $T/runs/sp10/summary.json | head -1 ;;
esac; done
