#!/bin/bash
# The seventh probe of issue #33 (h29). usage: probe7_cli.sh T SECTION...
# T: a mktemp -d folder holding code/ (git archive of the code probed), img/ (probe7_images.py) and
# runs/s0 (a tiny search), runs/p0 (a tiny pretraining), made by the setup section.
# Sections were appended as results came in, each block its own `for ... case` (appending never
# moves the bytes a running copy of this script has yet to read). Order run: setup | f1 f2 | f5 f6
# | f9 f7 | f2b f11 f3 f8 | f6b f1b f2c f9b | f2d f2e | f8b f9c; the library: probe7_library.py.
T=$1; shift
. "$(dirname "$0")/probe7_lib.sh"
IMG="--dataset imagefolder --image_size 16 --batch_size 4 --epochs 1 --num_workers 0 --warmup_epochs 0"
for section in "$@"; do case $section in
setup)
  p S0 $NAS search $TINY --warmup_epochs 0 --out_dir $T/runs --run_name s0
  p S1 $NAS pretrain $TINY --out_dir $T/runs --run_name p0 ;;
f1)  # a user's image folder
  p I0 $NAS search $IMG --data_root $T/img/base --out_dir $T/runs --run_name i0
  p I1 $NAS search $IMG --data_root $T/img/nfd --out_dir $T/runs --run_name i1
  p I2 $NAS search $IMG --data_root $T/img/escclass --out_dir $T/runs --run_name i2
  p I3 $NAS search $IMG --data_root $T/img/ztxt --out_dir $T/runs --run_name i3
  p I4 $NAS search $IMG --data_root $T/img/iccp --out_dir $T/runs --run_name i4
  p I5 $NAS search $IMG --data_root $T/img/thin --out_dir $T/runs --run_name i5
  p I6 $NAS search $IMG --data_root $T/img/float --out_dir $T/runs --run_name i6
  p I7 $NAS search $IMG --data_root $T/img/jpegbomb --out_dir $T/runs --run_name i7
  p I8 $NAS search $IMG --data_root $T/img/badutf8 --out_dir $T/runs --run_name i8
  p I9 $NAS search $IMG --data_root $T/img/outlink --out_dir $T/runs --run_name i9
  p I10 $NAS search $IMG --data_root $T/img/base/train/a/0.png --out_dir $T/runs --run_name i10
  # the folder changed after the run: a class added, then `eval knn` of the run on it
  cp -r $T/img/base $T/img/grown; mkdir -p $T/img/grown/train/c $T/img/grown/val/c
  cp $T/img/base/train/a/*.png $T/img/grown/train/c/; cp $T/img/base/val/a/*.png $T/img/grown/val/c/
  sed -i "s#$T/img/base#$T/img/grown#" $T/runs/i0/config.yaml 2>/dev/null
  p I11 $NAS eval knn $T/runs/i0 --data_root $T/img/grown --out $T/i11.json --num_workers 0
  p I12 $NAS pretrain $IMG --data_root $T/img/base --out_dir $T/runs --run_name i12 ;;
esac; done
# second file part: sections appended below are dispatched by the same loop (re-entered)
for section in "$@"; do case $section in
f2)  # export overwrites, run directories
  mkdir -p $T/x; echo keep > $T/x/afile
  p E1 $NAS export $T/runs/s0 --out $T/x/afile/sub              # a parent that is a plain file
  p E2 $NAS export $T/runs/s0 --out $T/runs/p0/heads/extra        # into ANOTHER run's heads/
  p E3 $NAS export $T/runs/s0 --out /dev/null
  p E4 $NAS export $T/runs/s0 --out $T/x/$(printf 'e%.0s' $(seq 1 260))
  p E5 $NAS export $T/runs/p0 --out $T/x/e5                       # a pretraining run as the source (fixed in h27: check)
  p E6 $NAS export $T/runs/s0 --out $T/x/e6                       # a plain export (setup for E7, f3)
  p E7 $NAS export $T/x/e6 --out $T/x/e7                          # an export folder as the run
  ln -s $T/runs/s0 $T/x/s0link
  p E8 $NAS export $T/x/s0link --out $T/x/s0link/heads/z           # through a link to the run, --out inside via the link
  # two exports to the same new --out at once
  ( p E9a $NAS export $T/runs/s0 --out $T/x/e9 --rank 1 & p E9b $NAS export $T/runs/s0 --out $T/x/e9 --rank 2 & wait )
  echo "E9 holds: $(cat $T/x/e9/export.json 2>/dev/null | tr -d '\n ' | head -c 300)"
  ls -la $T/x/ | grep -i partial
  mkdir -p $T/runs/usr; echo mine > $T/runs/usr/notes.txt        # a user's folder as --run_name
  p E10 $NAS search $TINY --warmup_epochs 0 --out_dir $T/runs --run_name usr
  echo "E10 usr holds: $(ls -A $T/runs/usr | tr '\n' ' ') notes: $(cat $T/runs/usr/notes.txt)"
  mkdir -p $T/runs/ex; cp -r $T/x/e6/. $T/runs/ex/                 # an export folder as --resume
  p E11 $NAS search $TINY --warmup_epochs 0 --resume $T/runs/ex ;;
f3)  # interrupted exports, pretrain --init
  # SIGKILL while the export writes, then export again to the same --out, then --init on the leftovers
  ( cd $T/cwd; ulimit -v 8000000; KW_LOG=$T/o/X12.log nice -n 5 $PY $(dirname $0)/kill_when.py $T/x '.e12.*/backbone*' 120 -- $NAS export $T/runs/s0 --out $T/x/e12 ) > $T/o/X12.out 2>&1
  echo "X12 kill: $(tail -2 $T/o/X12.out | tr '\n' '|') left: $(ls -a $T/x | grep e12 | tr '\n' ' ')"
  for d in $T/x/.e12*; do [ -e "$d" ] && p X12b $NAS pretrain $TINY --init "$d" --out_dir $T/runs --run_name x12b; done
  p X12c $NAS export $T/runs/s0 --out $T/x/e12
  echo "X12c after a second export: $(ls -a $T/x | grep e12 | tr '\n' ' ')"
  # a mixed export: one head from a --rank 2 export copied over the rank-1 export's
  p X13 $NAS export $T/runs/s0 --out $T/x/e13 --rank 2
  cp -r $T/x/e6 $T/x/mix; rm -rf $T/x/mix/heads/projector; cp -r $T/x/e13/heads/projector $T/x/mix/heads/
  p X13b $NAS pretrain $TINY --init $T/x/mix --out_dir $T/runs --run_name x13b
  # the backbone of another run put in an export (same architecture, other weights)
  cp -r $T/x/e6 $T/x/bb; cp $T/runs/p0/backbone.safetensors $T/x/bb/backbone.safetensors
  p X14 $NAS pretrain $TINY --init $T/x/bb --out_dir $T/runs --run_name x14
  # export.json edited to claim rank 3
  cp -r $T/x/e6 $T/x/ej; sed -i 's/"rank": 1/"rank": 3/' $T/x/ej/export.json
  p X15 $NAS pretrain $TINY --init $T/x/ej --out_dir $T/runs --run_name x15
  # --init of a search with only genotype.rejected.json (a collapsed search)
  p X16s $NAS search $TINY --warmup_epochs 0 --collapse_min_std 5 --out_dir $T/runs --run_name col
  p X16 $NAS pretrain $TINY --init $T/runs/col --out_dir $T/runs --run_name x16
  # --init where export's backbone.safetensors is a link to a file outside the folder
  cp -r $T/x/e6 $T/x/bl; rm $T/x/bl/backbone.safetensors; ln -s $T/runs/s0/backbone.safetensors $T/x/bl/backbone.safetensors
  p X17 $NAS pretrain $TINY --init $T/x/bl --out_dir $T/runs --run_name x17 ;;
esac; done
for section in "$@"; do case $section in
f5)  # label collisions, planning only
  C="$NAS compare --seeds 1 $TINY --report_only"
  p L1 $C --heads 'ß=default,ss=paper' --out $T/l1
  p L2 $C --heads 'search,search:argmax,search-argmax=paper' --out $T/l2
  p L3 $C --heads 'a.=default,a=paper' --out $T/l3
  p L4 $C --heads 'search+init,search-init=paper' --out $T/l4
  p L5 $C --heads "$(printf 'e\u0301')=default,$(printf '\u00e9')=paper" --out $T/l5
  p L6 $C --heads $'x\x1b[2J=default' --out $T/l6
  p L7 $C --heads "m=$T/runs/s0,default" --reference m --out $T/l7
  p L8 $C --heads 'a-s0=default,a=paper' --seeds 0, --out $T/l8
  p L9 $C --heads 'default,default' --out $T/l9
  ls $T/l2/runs $T/l4/runs $T/l5/runs $T/l8/runs 2>&1 | tr '\n' ' '; echo ;;
f6)  # --heads PATH rows whose path is odd
  C="$NAS compare --seeds 1 $TINY --report_only"
  mkdir -p "$T/a,b" "$T/x=y" "$T/p(1)"; for d in "$T/a,b" "$T/x=y" "$T/p(1)"; do cp $T/runs/s0/genotype.json "$d/"; done
  p H1 $C --heads "m=$T/a,b/genotype.json" --out $T/h1
  p H2 $C --heads "$T/x=y/genotype.json" --out $T/h2
  p H3 $C --heads "m=$T/p(1)/genotype.json" --out $T/h3
  p H4 $C --heads "m=/dev/stdin" --out $T/h4 </dev/null
  p H5 $C --heads "m=$T/x/e6" --out $T/h5
  p H6 $C --heads "m=$T/runs/s0" --framework simclr --out $T/h6
  p H7 $C --heads "m=$T/runs/p0" --out $T/h7
  p H8 $C --heads "m=$T/runs/s0/heads/predictor" --out $T/h8 ;;
f7)  # failing rows
  p R1 $NAS compare --seeds 1 $TINY --heads "default,x=default(--dataset=imagefolder --data_root=$T/nope)" --out $T/r1
  p R2 $NAS compare --seeds 1 $TINY --heads 'x=default(--lr=9000 --weight_decay=10)' --out $T/r2
  p R4 $NAS compare --seeds 1 $TINY --heads 'default,x=default(--resume)' --out $T/r4 --report_only
  p R5 $NAS compare --seeds 1 $TINY --heads 'default,x=default(--epochs=0)' --out $T/r5 --report_only
  p R6 $NAS compare --seeds 1 $TINY --heads 'default,x=default(--config=/etc/hostname)' --out $T/r6 --report_only
  p R3 $NAS compare --seeds 1 $TINY --jobs 2 --heads 'default,x=default(--lr=9000 --weight_decay=10)' --out $T/r3 ;;
f9)  # damaged or planted compare files
  mkdir -p $T/c1/logs; echo precious > $T/outside.txt; ln -s $T/outside.txt $T/c1/logs/default-s0.log
  p C1 $NAS compare --seeds 1 $TINY --heads default --out $T/c1
  echo "C1 outside.txt now: $(wc -l < $T/outside.txt) lines; head: $(head -c 80 $T/outside.txt | tr '\n' '|')"
  mkdir -p $T/c2/logs; mkfifo $T/c2/logs/default-s0.log
  TO=120 p C2 $NAS compare --seeds 1 $TINY --heads default --out $T/c2
  # the finished comparison c1 (if it ran): damage its files one at a time, --report_only
  R="$NAS compare --seeds 1 $TINY --heads default --report_only"
  S=$T/c1/runs/default-s0/summary.json
  if [ -f $S ]; then
    cp $S $T/s.bak; cp $T/c1/compare.json $T/cj.bak
    rm $T/c1/compare.json; ln -s /dev/urandom $T/c1/compare.json
    TO=120 p C3 $R --out $T/c1; rm $T/c1/compare.json; cp $T/cj.bak $T/c1/compare.json
    mv $T/c1/results.md $T/rm.bak; mkdir $T/c1/results.md
    p C4 $R --out $T/c1; rmdir $T/c1/results.md 2>/dev/null; mv $T/rm.bak $T/c1/results.md
    $PY -c "import sys,re; s=open(sys.argv[1]).read(); open(sys.argv[1],'w').write(re.sub(r'\"knn_top1\": [0-9.e+-]+', '\"knn_top1\": ' + '9'*5000, s, count=1))" $S
    p C5 $R --out $T/c1; cp $T/s.bak $S
    $PY -c "import sys; open(sys.argv[1],'w').write('['*100000 + ']'*100000)" $S
    p C6 $R --out $T/c1; cp $T/s.bak $S
    $PY -c "import sys; s=open(sys.argv[1]).read(); open(sys.argv[1],'w').write(s.replace('\"knn_top1\"', '\"knn_top1\": 1, \"knn_top1\"', 1))" $S
    p C7 $R --out $T/c1; cp $T/s.bak $S
    # a hand-made pretraining with other options planted as the comparison's run
    mkdir -p $T/c8/runs; cp $T/c1/compare.json $T/c8/ 2>/dev/null
    p C8a $NAS pretrain $TINY --subset 48 --out_dir $T/c8/runs --run_name default-s0
    p C8 $R --out $T/c8
    # runs/ a link to c1's runs (another comparison): a comparison with other options reads them
    mkdir -p $T/c9; ln -s $T/c1/runs $T/c9/runs
    p C9 $NAS compare --seeds 1 $TINY --lr 0.07 --heads default --report_only --out $T/c9
    # compare.json edited to list another seed set and heads
    cp -r $T/c1 $T/c10; sed -i 's/"default"/"paper"/' $T/c10/compare.json
    p C10 $R --out $T/c10
  fi ;;
esac; done
for section in "$@"; do case $section in
f8)  # SIGKILL mid-write (new places), then what follows
  KW="$PY $(dirname $0)/kill_when.py"
  # K1 a pretraining of 2 epochs killed while epoch 2's last.ckpt is written, then --resume
  ( cd $T/cwd; ulimit -v 8000000; KW_LOG=$T/o/K1.log nice -n 5 $KW $T/runs/k1 '.last.ckpt.*' 300 -- $NAS pretrain $TINY --epochs 2 --out_dir $T/runs --run_name k1 ) > $T/o/K1.out 2>&1
  echo "K1 $(cat $T/o/K1.out) after: $(ls -a $T/runs/k1/checkpoints | tr '\n' ' ')"
  p K1r $NAS pretrain $TINY --epochs 2 --out_dir $T/runs --run_name k1 --resume
  # K3 a search killed while last.ckpt is written; then export it (not --resume)
  ( cd $T/cwd; ulimit -v 8000000; KW_LOG=$T/o/K3.log nice -n 5 $KW $T/runs/k3 '.last.ckpt.*' 300 -- $NAS search $TINY --warmup_epochs 0 --out_dir $T/runs --run_name k3 ) > $T/o/K3.out 2>&1
  echo "K3 $(cat $T/o/K3.out) after: $(ls -a $T/runs/k3/checkpoints | tr '\n' ' ')"
  p K3x $NAS export $T/runs/k3 --out $T/x/k3x
  p K3e $NAS eval knn $T/runs/k3 --num_workers 0 --out $T/x/k3.json
  # K2 eval knn killed while its result is written; then again
  ( cd $T/cwd; ulimit -v 8000000; KW_LOG=$T/o/K2.log nice -n 5 $KW $T/runs/p0/eval '.knn*' 300 -- $NAS eval knn $T/runs/p0 --num_workers 0 ) > $T/o/K2.out 2>&1
  echo "K2 $(cat $T/o/K2.out) after: $(ls -a $T/runs/p0/eval | tr '\n' ' ')"
  p K2r $NAS eval knn $T/runs/p0 --num_workers 0
  echo "K2r after: $(ls -a $T/runs/p0/eval | tr '\n' ' ')"
  # K4 the compare driver SIGKILLed while its run trains; the run (own session) goes on? then the same command
  ( cd $T/cwd; ulimit -v 8000000; KW_LOG=$T/o/K4.log nice -n 5 $KW $T/k4/runs/default-s0/checkpoints '*' 300 -- $NAS compare --seeds 1 $TINY --epochs 3 --heads default --out $T/k4 ) > $T/o/K4.out 2>&1
  sleep 1; echo "K4 $(cat $T/o/K4.out); orphan: $(pgrep -f "run_name default-s0 .*$T/k4|$T/k4.*default-s0" | tr '\n' ' ')"
  p K4r $NAS compare --seeds 1 $TINY --epochs 3 --heads default --out $T/k4
  echo "K4r orphan after: $(pgrep -f "$T/k4" | tr '\n' ' ')" ;;
f11)  # the smaller ones
  ( ulimit -v 8000000; cd $T/cwd; $NAS compare --seeds 1 $TINY --heads default --report_only --out $T/c1 | head -c 1 >/dev/null ) 2>$T/o/S1.err
  echo "S1 rc(pipe)=${PIPESTATUS[0]} tb=$(grep -c Traceback $T/o/S1.err) :: $(tail -c 300 $T/o/S1.err | tr '\n' '|')"
  ( ulimit -v 8000000; cd $T/cwd; $NAS export $T/runs/s0 --out $T/x/s3 >&- ) 2>$T/o/S3.err
  echo "S3 rc=$? tb=$(grep -c Traceback $T/o/S3.err) :: $(tail -c 300 $T/o/S3.err | tr '\n' '|') ; s3 exists: $(ls $T/x/s3 2>&1 | head -3 | tr '\n' ' ')"
  mkdir -p $T/gone; ( cd $T/gone && rmdir $T/gone && ulimit -v 8000000 && $NAS search $TINY --warmup_epochs 0 --run_name s4 ) >$T/o/S4.out 2>$T/o/S4.err
  echo "S4 rc=$? tb=$(grep -c Traceback $T/o/S4.err) :: $(tail -c 400 $T/o/S4.err | tr '\n' '|')"
  TMPDIR=$T/nonexistent p S5 $NAS search $TINY --warmup_epochs 0 --out_dir $T/runs --run_name s5
  mkfifo $T/fifo.yaml
  TO=60 p S6 $NAS search $TINY --config $T/fifo.yaml --out_dir $T/runs --run_name s6
  TO=60 p S7 $NAS sweep --config $T/fifo.yaml --trials 1 --sweep_dir $T/sw
  printf 'base: b.yaml\nepochs: 1\n' > $T/a.yaml; printf 'base: a.yaml\nlr: 0.1\n' > $T/b.yaml
  p S8 $NAS search $TINY --config $T/a.yaml --out_dir $T/runs --run_name s8
  p S9 $NAS search $TINY --batch_size 3 --warmup_epochs 0 --out_dir $T/runs --run_name s9
  p S10 $NAS search $IMG --data_root $T/$(printf 'd%.0s' $(seq 1 5000)) --out_dir $T/runs --run_name s10
  p S11 $NAS search $TINY --resume $T/$(printf 'r%.0s' $(seq 1 5000))
  TO=120 p S12 $NAS sweep --config $T/code/recipes/sweeps/$(ls $T/code/recipes/sweeps | head -1) --trials 1 --sweep_dir $T/$(printf 'w%.0s' $(seq 1 300))
  p S13 $NAS
  p S14 $NAS search $TINY --warmup_epochs 0 --out_dir $T/runs --run_name $'s14\ufeffx'
  p S15 $NAS search $TINY --warmup_epochs 0 --out_dir $T/$'o\u202efdp.exe' --run_name s15
  p S16 $NAS compare --seeds 1 $TINY --heads default --report_only --out $T/$'c\u200bz'
  # a signal the table does not list: SIGQUIT (Ctrl-\) and SIGUSR2 mid-epoch
  ( cd $T/cwd; ulimit -v 8000000; $NAS pretrain $TINY --epochs 3 --out_dir $T/runs --run_name s17 >$T/o/S17.out 2>$T/o/S17.err & pid=$!; sleep 25; kill -USR2 $pid; wait $pid; echo "S17 SIGUSR2 rc=$? :: $(tail -c 300 $T/o/S17.err | tr '\n' '|') ckpt: $(ls $T/runs/s17/checkpoints 2>&1 | tr '\n' ' ')" )
  # SIGTERM to eval knn mid-way
  ( cd $T/cwd; ulimit -v 8000000; $NAS eval knn $T/runs/s0 --num_workers 0 --out $T/x/s18.json >$T/o/S18.out 2>$T/o/S18.err & pid=$!; sleep 6; kill -TERM $pid; wait $pid; echo "S18 SIGTERM eval rc=$? :: $(tail -c 300 $T/o/S18.err | tr '\n' '|') left: $(ls -a $T/x | grep s18 | tr '\n' ' ')" ) ;;
esac; done
for section in "$@"; do case $section in
f2b)  # what E2 (an export into another run's heads/) and E10 (a user's folder as --run_name) leave
  p E2b $NAS pretrain $TINY --init $T/runs/p0 --out_dir $T/runs --run_name e2b
  HF_HUB_OFFLINE=1 p E2c $NAS push $T/runs/p0 --repo someone/x
  mkdir -p $T/e2d/runs; cp -r $T/runs/p0 $T/e2d/runs/default-s0
  p E2d $NAS compare --seeds 1 $TINY --heads default --report_only --out $T/e2d
  mkdir -p $T/runs/usr2/heads; echo "my own numbers" > $T/runs/usr2/alphas.csv; echo '{"mine": 1}' > $T/runs/usr2/backbone.json
  echo "my notes" > $T/runs/usr2/heads/README
  p E10b $NAS search $TINY --warmup_epochs 0 --out_dir $T/runs --run_name usr2
  echo "E10b alphas.csv: $(head -c 40 $T/runs/usr2/alphas.csv | tr '\n' '|'); backbone.json: $(head -c 40 $T/runs/usr2/backbone.json | tr '\n' '|'); heads/README: $(cat $T/runs/usr2/heads/README 2>&1)"
  p E11b $NAS search $TINY --warmup_epochs 0 --out_dir $T/runs --run_name ex
  echo "E11b ex holds: $(ls $T/runs/ex | tr '\n' ' ')" ;;
esac; done
for section in "$@"; do case $section in
f6b)  # what a row holding only a predictor's genotype (H8) trains
  p H8b $NAS pretrain $TINY --head $T/runs/s0/heads/predictor --out_dir $T/runs --run_name h8b
  $PY -c "import json,sys; s=json.load(open(sys.argv[1])); print('H8b genotypes:', s.get('genotypes'), 'head:', s.get('head'))" $T/runs/h8b/summary.json 2>&1 | cut -c1-600 ;;
esac; done
for section in "$@"; do case $section in
f2c)  # a finished run whose checkpoints/ was deleted (to save disk), then the same --run_name again
  cp -r $T/runs/s0 $T/runs/s0c; rm -rf $T/runs/s0c/checkpoints; sha256sum $T/runs/s0c/summary.json $T/runs/s0c/genotype.json > $T/s0c.sha
  p E12 $NAS search $TINY --warmup_epochs 0 --seed 7 --out_dir $T/runs --run_name s0c
  echo "E12 summary/genotype replaced: $(sha256sum -c $T/s0c.sha 2>&1 | tr '\n' ' ')" ;;
esac; done
for section in "$@"; do case $section in
f9b)  # compare.json edited to name another framework; to hold a pinned head for a row that has none
  cp -r $T/c1 $T/c11; sed -i 's/"framework": "simsiam"/"framework": "mocov2"/' $T/c11/compare.json
  p C11 $NAS compare --seeds 1 $TINY --heads default --report_only --out $T/c11
  cp -r $T/c1 $T/c12; $PY -c "import json,sys; p=sys.argv[1]; d=json.load(open(p)); d['pinned_heads']={'default': {'path': '/etc/hostname', 'sha256': '0'*64}}; json.dump(d, open(p,'w'))" $T/c12/compare.json
  p C12 $NAS compare --seeds 1 $TINY --heads default --report_only --out $T/c12 ;;
esac; done
for section in "$@"; do case $section in
f1b)  # I12 again without the search-only option
  p I12 $NAS pretrain ${IMG/--warmup_epochs 0/} --data_root $T/img/escclass --out_dir $T/runs --run_name i12
  grep -c $'\x1b' $T/runs/i12/summary.json $T/runs/i12/config.yaml $T/runs/i12/logs/* 2>/dev/null | tr '\n' ' '; echo ;;
esac; done
for section in "$@"; do case $section in
f2d)  # other commands' outputs into another run's heads/ (E2 found export does it)
  cp -r $T/runs/p0 $T/runs/p0e
  p E13 $NAS eval knn $T/runs/s0 --num_workers 0 --out $T/runs/p0e/heads/knn.json
  p E13b $NAS pretrain $TINY --init $T/runs/p0e --out_dir $T/runs --run_name e13b
  cp -r $T/runs/s0 $T/runs/s0h; rm -rf $T/runs/s0h/checkpoints
  p E14 $NAS compare --seeds 1 $TINY --heads default --report_only --out $T/runs/s0h/heads
  p E14b $NAS export $T/runs/s0 --out $T/x/e14b --checkpoint $T/runs/s0/checkpoints/last.ckpt
  p E14c $NAS pretrain $TINY --init $T/runs/s0h --out_dir $T/runs --run_name e14c ;;
esac; done
for section in "$@"; do case $section in
f2e)  # E13 again on a clean pretraining run (p0e copied E2's damage)
  p E13c $NAS eval knn $T/runs/s0 --num_workers 0 --out $T/runs/i12/heads/knn.json
  p E13d $NAS pretrain ${IMG/--warmup_epochs 0/} --data_root $T/img/escclass --init $T/runs/i12 --out_dir $T/runs --run_name e13d ;;
esac; done
for section in "$@"; do case $section in
f8b)  # SIGKILL at epoch 2's checkpoint write (epoch 1 whole), then --resume
  KW="$PY $(dirname $0)/kill_when.py"
  ( cd $T/cwd; ulimit -v 8000000; KW_LOG=$T/o/K5.log nice -n 5 $KW $T/runs/k5 '.epoch=2.ckpt.*' 400 -- $NAS pretrain $TINY --epochs 2 --out_dir $T/runs --run_name k5 ) > $T/o/K5.out 2>&1
  echo "K5 $(cat $T/o/K5.out) after: $(ls -a $T/runs/k5/checkpoints | tr '\n' ' ')"
  p K5r $NAS pretrain $TINY --epochs 2 --out_dir $T/runs --run_name k5 --resume
  echo "K5r after: $(ls -a $T/runs/k5/checkpoints | tr '\n' ' '); summary: $(ls $T/runs/k5/summary.json 2>&1)" ;;
f9c)  # a run's summary.json a link to another run's; a 5,000-character --resume (S11 again)
  cp -r $T/c1 $T/c13; rm $T/c13/runs/default-s0/summary.json; ln -s $T/runs/p0/summary.json $T/c13/runs/default-s0/summary.json
  p C13 $NAS compare --seeds 1 $TINY --heads default --report_only --out $T/c13
  p S11b $NAS search $TINY --warmup_epochs 0 --resume $T/$(printf 'r%.0s' $(seq 1 5000)) ;;
esac; done
