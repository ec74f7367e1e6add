#!/bin/bash
# The eighth probe of issue #33 (h32). usage: probe8_cli.sh T SECTION...
# T: a mktemp -d folder holding code/ (git archive of main b00c3f8); runs/s0 (a tiny search) and
# runs/p0 (a tiny pretraining) from setup. New inputs only (none of findings.md,
# findings-families-4-8.md, findings-seventh.md, RESULTS.md "Round three").
T=$1; shift
D=$(dirname "$(readlink -f "$0")")
. $D/probe8_lib.sh
IMG="--dataset imagefolder --image_size 16 --batch_size 4 --epochs 1 --num_workers 0 --warmup_epochs 0"
N=$T/n; mkdir -p $N
for section in "$@"; do case $section in
setup)
  p S0 $NAS search $TINY --warmup_epochs 0 --out_dir $T/runs --run_name s0
  p S1 $NAS pretrain $TINY --out_dir $T/runs --run_name p0 ;;
f1)  # image folders
  $PY - $T/img <<'PY'
import os, sys, numpy as np
from PIL import Image
root = sys.argv[1]
def base(r):
    rng = np.random.default_rng(0)
    for split, n in (("train", 8), ("val", 4)):
        for c in ("a", "b"):
            os.makedirs(f"{r}/{split}/{c}", exist_ok=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(f"{r}/{split}/{c}/{i}.png")
# macOS zip leftovers: AppleDouble ._*.png files and a __MACOSX folder (a common real folder)
base(f"{root}/mac"); os.makedirs(f"{root}/mac/train/__MACOSX", exist_ok=True)
for c in ("a", "b"):
    open(f"{root}/mac/train/{c}/._0.png", "wb").write(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + bytes(60))
    open(f"{root}/mac/train/__MACOSX/._x.png", "wb").write(b"\x00\x05\x16\x07")
# a 0-byte image
base(f"{root}/empty"); open(f"{root}/empty/train/a/0.png", "wb").close()
# a val class folder with no image in it
base(f"{root}/emptyval"); [os.remove(f"{root}/emptyval/val/b/{f}") for f in os.listdir(f"{root}/emptyval/val/b")]
# a CMYK JPEG, a 16-bit grey PNG, an LA PNG, an animated GIF, a palette PNG with transparency
base(f"{root}/modes")
Image.new("CMYK", (16, 16), (10, 200, 30, 0)).save(f"{root}/modes/train/a/cmyk.jpg")
Image.fromarray(np.full((16, 16), 60000, dtype=np.uint16)).save(f"{root}/modes/train/a/g16.png")
Image.new("LA", (16, 16), (100, 0)).save(f"{root}/modes/train/a/la.png")
frames = [Image.new("P", (16, 16), i) for i in range(3)]
frames[0].save(f"{root}/modes/train/b/anim.gif", save_all=True, append_images=frames[1:])
pal = Image.new("P", (16, 16), 1); pal.info["transparency"] = 1; pal.save(f"{root}/modes/train/b/pal.png", transparency=1)
# a class that is a link to another class folder of the same split (every image counted twice)
base(f"{root}/dup"); os.symlink("a", f"{root}/dup/train/c"); os.symlink("a", f"{root}/dup/val/c")
PY
  p N1a $NAS search $IMG --data_root $T/img/mac --out_dir $N --run_name n1a
  p N1b $NAS search $IMG --data_root $T/img/empty --out_dir $N --run_name n1b
  p N1c $NAS search $IMG --data_root $T/img/emptyval --out_dir $N --run_name n1c
  p N1d $NAS search $IMG --data_root $T/img/modes --out_dir $N --run_name n1d
  p N1e $NAS search $IMG --data_root $T/img/dup --out_dir $N --run_name n1e ;;
f2)  # run folders and exports: links, relative paths, eval/
  ln -sfn $T/runs/s0 $N/s0link
  p N2a $NAS search $TINY --warmup_epochs 0 --out_dir $N/s0link --run_name new        # --out_dir a link to a run
  p N2b $NAS pretrain $TINY --out_dir $T/runs/s0/eval --run_name inner                 # a run inside another's eval/
  mkdir -p $T/cwd/rel; ( cd $T/runs/s0/heads && ulimit -v 8000000 && $NAS export $T/runs/p0 --out . >/dev/null 2>&1; echo "N2c0 export --out . from inside s0/heads rc=$?" | tee -a $T/summary.log )
  ( cd $T/runs/s0/heads && ulimit -v 8000000 && timeout 400 $NAS pretrain $TINY --out_dir . --run_name rel > $T/o/N2c.out 2> $T/o/N2c.err; echo "N2c rc=$? :: $(tail -c 400 $T/o/N2c.err | tr '\n' '|')" | tee -a $T/summary.log )
  p N2d $NAS eval knn $T/runs/s0 --num_workers 0 --out $T/runs/p0/eval/knn-of-s0.json  # into ANOTHER run's eval/
  # a run whose eval/ is a link into another run's heads/: eval's own folder, resolved
  cp -r $T/runs/s0 $N/s0e; cp -r $T/runs/p0 $N/p0e; rm -rf $N/s0e/eval; ln -s $N/p0e/heads $N/s0e/eval
  p N2e $NAS eval knn $N/s0e --num_workers 0
  echo "N2e p0e/heads now: $(ls $N/p0e/heads | tr '\n' ' ')" | tee -a $T/summary.log
  p N2e2 $NAS pretrain $TINY --init $N/p0e --out_dir $N --run_name n2e2
  # a user's inputs/ folder (skipped as a run's W&B downloads) holding their own file
  mkdir -p $N/usr/inputs; echo precious > $N/usr/inputs/data.csv
  p N2f $NAS search $TINY --warmup_epochs 0 --out_dir $N --run_name usr
  echo "N2f usr/inputs: $(cat $N/usr/inputs/data.csv 2>&1)" | tee -a $T/summary.log
  # a user's file whose name matches a killed write's temporary
  mkdir -p $N/usr2; echo precious > $N/usr2/.notes.txt.0123abcd.nasiam.tmp
  p N2g $NAS search $TINY --warmup_epochs 0 --out_dir $N --run_name usr2
  echo "N2g usr2: $(ls -A $N/usr2 | tr '\n' ' ')" | tee -a $T/summary.log
  # --out_dir a relative path through a link inside the output tree of a run: x -> runs/p0/heads
  ln -sfn $T/runs/p0/heads $T/cwd/phl
  p N2h $NAS export $T/runs/s0 --out phl/../e_rel
  echo "N2h where: $(ls -d $T/runs/p0/e_rel $T/cwd/e_rel 2>&1 | tr '\n' ' ')" | tee -a $T/summary.log ;;
f3)  # the flock-held temporaries of exports
  # a live writer's .partial (held with flock by another process) beside --out: left alone
  mkdir -p $N/x/.e3.0123456789ab.partial; echo held > $N/x/.e3.0123456789ab.partial/f
  ( flock $N/x/.e3.0123456789ab.partial sleep 150 & echo $! > $N/flock.pid )
  sleep 1
  p N3a $NAS export $T/runs/s0 --out $N/x/e3
  echo "N3a left: $(ls -a $N/x | grep e3 | tr '\n' ' ')" | tee -a $T/summary.log
  kill $(cat $N/flock.pid) 2>/dev/null
  # a user's folder that happens to be named as an abandoned .partial of --out (unheld)
  mkdir -p $N/x/.e4.fedcba987654.partial; echo mine > $N/x/.e4.fedcba987654.partial/notes.txt
  p N3b $NAS export $T/runs/s0 --out $N/x/e4
  echo "N3b left: $(ls -a $N/x | grep e4 | tr '\n' ' ')" | tee -a $T/summary.log
  # a .partial that is a link to a folder outside: never followed, never removed
  mkdir -p $N/outside; echo keep > $N/outside/keep.txt; ln -s $N/outside $N/x/.e5.aaaaaaaaaaaa.partial
  p N3c $NAS export $T/runs/s0 --out $N/x/e5
  echo "N3c outside: $(ls $N/outside | tr '\n' ' ') link: $(ls -a $N/x | grep e5 | tr '\n' ' ')" | tee -a $T/summary.log
  # --init of an export whose export.json is a link to an identical copy
  cp -r $N/x/e4 $N/x/e6; mv $N/x/e6/export.json $N/x/e6.json; ln -s $N/x/e6.json $N/x/e6/export.json
  p N3d $NAS pretrain $TINY --init $N/x/e6 --out_dir $N --run_name n3d ;;
f4)  # compare trusting foreign runs; summary hashes
  p C0 $NAS compare --seeds 1 $TINY --heads default --out $N/cc
  cp -r $N/cc $N/cc2; rm $N/cc2/compare.json
  $PY - $N/cc2/runs/default-s0/summary.json <<'PY'
import json, sys
p = sys.argv[1]; s = json.load(open(p))
def bump(o):
    for k, v in (o.items() if isinstance(o, dict) else []):
        if isinstance(v, float) and "knn" in k: o[k] = 0.999
        else: bump(v)
bump(s); json.dump(s, open(p, "w"))
PY
  p N4a $NAS compare --seeds 1 $TINY --heads default --report_only --out $N/cc2   # compare.json lost, then a summary forged
  grep -o '0.999' $N/cc2/results.md | head -1 | sed 's/^/N4a forged number in results.md: /' | tee -a $T/summary.log
  cp -r $N/cc $N/cc3; sed -i 's/"default-s0": "[0-9a-f]*"/"default-s0": "not-a-hash"/' $N/cc3/compare.json
  p N4b $NAS compare --seeds 1 $TINY --heads default --report_only --out $N/cc3
  # a hash recorded for a run the plan does not have, and the planned run's entry removed
  cp -r $N/cc $N/cc4; sed -i 's/"default-s0":/"zzz-s9":/' $N/cc4/compare.json
  p N4c $NAS compare --seeds 1 $TINY --heads default --report_only --out $N/cc4
  # compare.json replaced by a JSON list while a run trains (the per-run record reads it again)
  mkdir -p $N/cc5
  ( cd $T/cwd; ulimit -v 8000000; timeout 400 $NAS compare --seeds 1 $TINY --heads default --out $N/cc5 > $T/o/N4d.out 2> $T/o/N4d.err; echo "N4d rc=$? tb=$(grep -c Traceback $T/o/N4d.err) :: $(tail -c 500 $T/o/N4d.err | tr '\n' '|')" | tee -a $T/summary.log ) &
  for i in $(seq 1 300); do [ -d $N/cc5/runs/default-s0/checkpoints ] && break; sleep 0.5; done
  echo '[]' > $N/cc5/compare.json.new && mv $N/cc5/compare.json.new $N/cc5/compare.json
  wait ;;
f5)  # labels
  p N5a $NAS compare --seeds 1 $TINY --heads "-x=default,paper" --report_only --out $N/l1
  p N5b $NAS compare --seeds 1 $TINY --heads "..=default" --report_only --out $N/l2
  p N5c $NAS compare --seeds 1 $TINY --heads "$(printf 'a%.0s' $(seq 1 250))=default" --report_only --out $N/l3
  p N5d $NAS compare --seeds 1 $TINY --heads "CON=default,con=paper" --report_only --out $N/l4
  p N5e $NAS compare --seeds 1 $TINY --heads "--lr=default" --report_only --out $N/l5 ;;
f6)  # --heads PATH through a link retargeted
  mkdir -p $N/g; cp $T/runs/s0/genotype.json $N/g/one.json
  $PY -c "import json,sys; g=json.load(open('$N/g/one.json')); s=json.dumps(g).replace('\"relu\"','\"gelu\"',1); open('$N/g/two.json','w').write(s)"
  ln -sfn one.json $N/g/cur.json
  p N6a $NAS compare --seeds 1 $TINY --heads "m=$N/g/cur.json" --report_only --out $N/h1
  ln -sfn two.json $N/g/cur.json
  p N6b $NAS compare --seeds 1 $TINY --heads "m=$N/g/cur.json" --report_only --out $N/h1
  mkdir -p $N/g/zero; ln -s /dev/zero $N/g/zero/genotype.json
  TO=120 p N6c $NAS compare --seeds 1 $TINY --heads "m=$N/g/zero" --report_only --out $N/h2
  p N6d $NAS compare --seeds 1 $TINY --heads "m=~/nothere/genotype.json" --report_only --out $N/h3 ;;
f7)  # failing rows: a run SIGKILLed from outside (as the OOM killer does)
  ( cd $T/cwd; ulimit -v 8000000; timeout 500 $NAS compare --seeds 1 $TINY --heads default,paper --out $N/k7 > $T/o/N7a.out 2> $T/o/N7a.err; echo "N7a rc=$? tb=$(grep -c Traceback $T/o/N7a.err) :: $(tail -c 600 $T/o/N7a.err | tr '\n' '|')" | tee -a $T/summary.log ) &
  for i in $(seq 1 600); do pid=$(pgrep -f "run_name default-s0" | head -1); [ -n "$pid" ] && [ -d $N/k7/runs/default-s0 ] && break; sleep 0.5; done
  sleep 8; kill -9 $pid && echo "N7a killed run pid $pid" | tee -a $T/summary.log
  wait
  p N7b $NAS compare --seeds 1 $TINY --heads default,paper --report_only --out $N/k7 ;;
f8)  # SIGKILL during the final outputs, then --resume
  ( cd $T/cwd; ulimit -v 8000000; $PY $D/kill_when.py $N/k8 '.summary.json.*' 400 -- $NAS search $TINY --warmup_epochs 0 --out_dir $N --run_name k8 ) | sed 's/^/N8a /' | tee -a $T/summary.log
  echo "N8a left: $(ls -A $N/k8 | tr '\n' ' ')" | tee -a $T/summary.log
  p N8b $NAS search $TINY --warmup_epochs 0 --out_dir $N --resume $N/k8
  p N8c $NAS search $TINY --warmup_epochs 0 --out_dir $N --run_name k8
  echo "N8 after: $(ls -A $N/k8 | tr '\n' ' ')" | tee -a $T/summary.log ;;
f9)  # damaged files: a YAML alias bomb in a run's config.yaml
  cp -r $T/runs/s0 $N/bomb
  $PY - $N/bomb/config.yaml <<'PY'
import sys
p = sys.argv[1]
lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"] + [f"a{i}: &a{i} [*a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}]" for i in range(1, 9)]
open(p, "a").write("\n".join(lines) + "\n")
PY
  TO=120 p N9a $NAS export $N/bomb --out $N/bomb-e
  TO=120 p N9b $NAS eval knn $N/bomb --num_workers 0
  TO=120 p N9c $NAS pretrain $TINY --out_dir $N/bomb/logs --run_name inner   # the output check reads the bomb
  TO=120 p N9d $NAS search $TINY --warmup_epochs 0 --resume $N/bomb ;;
f11)  # exit 141, a full stdout, the argument checks
  ( ulimit -v 8000000; cd $T/cwd; $NAS search --help | head -c 1 >/dev/null; echo "N11a search --help | head -c1 rc=${PIPESTATUS[0]}" ) 2>$T/o/N11a.err | tee -a $T/summary.log; tail -c 300 $T/o/N11a.err
  ( ulimit -v 8000000; cd $T/cwd; $NAS eval knn $T/runs/s0 --num_workers 0 --out $N/k11.json | true; echo "N11b eval | true rc=${PIPESTATUS[0]}" ) 2>$T/o/N11b.err | tee -a $T/summary.log; tail -c 300 $T/o/N11b.err
  p N11c $NAS compare --seeds 1 $TINY --heads default --report_only --out $N/cc
  ( ulimit -v 8000000; cd $T/cwd; timeout 300 $NAS compare --seeds 1 $TINY --heads default --report_only --out $N/cc > /dev/full 2>$T/o/N11d.err; echo "N11d compare > /dev/full rc=$? tb=$(grep -c Traceback $T/o/N11d.err) :: $(tail -c 400 $T/o/N11d.err | tr '\n' '|')" ) | tee -a $T/summary.log
  ( ulimit -v 8000000; cd $T/cwd; timeout 300 $NAS compare --seeds 1 $TINY --heads default --report_only --out $N/cc 2>&- | head -c 1 >/dev/null; echo "N11e stderr closed, stdout | head rc=${PIPESTATUS[0]}" ) | tee -a $T/summary.log
  p N11f $NAS search $TINY --warmup_epochs 0 --out_dir "" --run_name e
  p N11g $NAS compare --seeds 1 $TINY --heads default --jobs 1.5 --report_only --out $N/j
  p N11h $NAS pretrain $TINY --out_dir $N --run_name lim --epochs 99999999999999999999 ;;
esac; done
for section in "$@"; do case $section in
f6b)  # N6a-b again: the first two.json was not a valid file (a space's activation list edited), so N6b
      # was refused on that. Now two valid genotypes: the first layer's activation identity -> relu
  $PY -c "s=open('$N/g/one.json').read(); open('$N/g/two.json','w').write(s.replace('\"activation\": \"identity\"','\"activation\": \"relu\"',1))"
  ln -sfn one.json $N/g/cur2.json
  p N6e $NAS compare --seeds 1 $TINY --heads "m=$N/g/cur2.json" --report_only --out $N/h4
  ln -sfn two.json $N/g/cur2.json
  p N6f $NAS compare --seeds 1 $TINY --heads "m=$N/g/cur2.json" --report_only --out $N/h4
  # the link's target folder swapped under a run-folder row: m=DIR where DIR -> run A, then -> run B
  p N5f $NAS compare --seeds 1 $TINY "--heads=-x=default" --report_only --out $N/l6 ;;
f4b)  # compare.json deleted while a run trains (the per-run record reads it again)
  mkdir -p $N/cc6
  ( cd $T/cwd; ulimit -v 8000000; timeout 400 $NAS compare --seeds 1 $TINY --heads default --out $N/cc6 > $T/o/N4e.out 2> $T/o/N4e.err; echo "N4e rc=$? tb=$(grep -c Traceback $T/o/N4e.err) :: $(tail -c 500 $T/o/N4e.err | tr '\n' '|')" | tee -a $T/summary.log ) &
  for i in $(seq 1 300); do [ -d $N/cc6/runs/default-s0/checkpoints ] && break; sleep 0.5; done
  rm $N/cc6/compare.json
  wait
  echo "N4e cc6 holds: $(ls -A $N/cc6 | tr '\n' ' ')" | tee -a $T/summary.log ;;
esac; done
for section in "$@"; do case $section in
f7b)  # N7a again: its pgrep pattern missed the run (the executor passes --run_name=default-s0), so nothing was killed
  ( cd $T/cwd; ulimit -v 8000000; timeout 500 $NAS compare --seeds 1 $TINY --heads default,paper --out $N/k7b > $T/o/N7c.out 2> $T/o/N7c.err; echo "N7c rc=$? tb=$(grep -c Traceback $T/o/N7c.err) :: $(tail -c 600 $T/o/N7c.err | tr '\n' '|')" | tee -a $T/summary.log ) &
  for i in $(seq 1 600); do pid=$(pgrep -f "run_name=default-s0 " | head -1); [ -n "$pid" ] && [ -d $N/k7b/runs/default-s0 ] && break; sleep 0.5; done
  sleep 8; kill -9 $pid && echo "N7c killed run pid $pid" | tee -a $T/summary.log
  wait
  p N7d $NAS compare --seeds 1 $TINY --heads default,paper --report_only --out $N/k7b ;;
esac; done
for section in "$@"; do case $section in
f7c)  # N7c again: the run had finished before the 8 s wait ended; now --epochs 3 and the kill 3 s after it starts
  ( cd $T/cwd; ulimit -v 8000000; timeout 500 $NAS compare --seeds 1 $TINY --epochs 3 --heads default,paper --out $N/k7c > $T/o/N7e.out 2> $T/o/N7e.err; echo "N7e rc=$? tb=$(grep -c Traceback $T/o/N7e.err) :: $(tail -c 700 $T/o/N7e.err | tr '\n' '|')" | tee -a $T/summary.log ) &
  for i in $(seq 1 600); do pid=$(pgrep -f "run_name=default-s0 " | head -1); [ -n "$pid" ] && break; sleep 0.2; done
  sleep 3; kill -9 $pid && echo "N7e killed run pid $pid" | tee -a $T/summary.log
  wait
  p N7f $NAS compare --seeds 1 $TINY --epochs 3 --heads default,paper --out $N/k7c ;;
esac; done
for section in "$@"; do case $section in
f11b)  # a closed stdout pipe while compare trains; an export whose reader goes away
  ( ulimit -v 8000000; cd $T/cwd; timeout 400 $NAS compare --seeds 1 $TINY --heads default --out $N/pp 2>$T/o/N11i.err | head -c 1 >/dev/null; echo "N11i compare (training) | head -c1 rc=${PIPESTATUS[0]} tb=$(grep -c Traceback $T/o/N11i.err)" ) | tee -a $T/summary.log
  sleep 15; echo "N11i after: pp holds $(ls -A $N/pp | tr '\n' ' '); run: $(ls -A $N/pp/runs/default-s0 2>/dev/null | tr '\n' ' '); live: $(pgrep -f "$N/pp/runs" | tr '\n' ' ')" | tee -a $T/summary.log
  tail -3 $N/pp/logs/default-s0.log 2>/dev/null | cut -c1-300
  ( ulimit -v 8000000; cd $T/cwd; timeout 400 $NAS export $T/runs/s0 --out $N/ep 2>$T/o/N11j.err | head -c 1 >/dev/null; echo "N11j export | head -c1 rc=${PIPESTATUS[0]} tb=$(grep -c Traceback $T/o/N11j.err)" ) | tee -a $T/summary.log
  echo "N11j after: $(ls -A $N/ep | tr '\n' ' '); beside: $(ls -a $N | grep '\.ep\.' | tr '\n' ' ')" | tee -a $T/summary.log
  p N11k $NAS pretrain $TINY --init $N/ep --out_dir $N --run_name n11k ;;
f8b)  # the parent-death signal with --jobs 2: the driver SIGKILLed while two runs train
  ( cd $T/cwd; ulimit -v 8000000; timeout 500 $NAS compare --seeds 1 $TINY --epochs 3 --jobs 2 --heads default,paper --out $N/jj > $T/o/N8d.out 2> $T/o/N8d.err & echo $! > $N/jj.pid; wait )  &
  for i in $(seq 1 600); do [ $(pgrep -f "$N/jj/runs" | wc -l) -ge 2 ] && break; sleep 0.2; done
  sleep 3; echo "N8d runs before: $(pgrep -f "$N/jj/runs" | tr '\n' ' ')" | tee -a $T/summary.log
  kill -9 $(pgrep -f "nasiam compare --seeds 1 .* --out $N/jj" | head -1)
  sleep 25; echo "N8d runs 25 s after the driver's SIGKILL: '$(pgrep -f "$N/jj/runs" | tr '\n' ' ')'" | tee -a $T/summary.log
  wait
  grep -h "stopped by\|SIG" $N/jj/logs/*.log | cut -c1-200 | tee -a $T/summary.log
  p N8e $NAS compare --seeds 1 $TINY --epochs 3 --jobs 2 --heads default,paper --out $N/jj ;;
esac; done
for section in "$@"; do case $section in
f8c)  # f8b again (stopped by hand before its kill: its pattern matched `timeout`, not the driver); a fresh --out
  ( cd $T/cwd; ulimit -v 8000000; exec timeout 500 $NAS compare --seeds 1 $TINY --epochs 3 --jobs 2 --heads default,paper --out $N/jj2 > $T/o/N8d.out 2> $T/o/N8d.err ) &
  for i in $(seq 1 600); do [ $(pgrep -f "$N/jj2/runs" | wc -l) -ge 2 ] && break; sleep 0.2; done
  sleep 3; echo "N8d runs before: $(pgrep -f "$N/jj2/runs" | tr '\n' ' ')" | tee -a $T/summary.log
  drv=$(pgrep -f "^$PY -m nasiam compare .*--out $N/jj2"); echo "N8d driver $drv" | tee -a $T/summary.log
  kill -9 $drv
  sleep 25; echo "N8d runs 25 s after the driver's SIGKILL: '$(pgrep -f "$N/jj2/runs" | tr '\n' ' ')'" | tee -a $T/summary.log
  wait
  grep -h "stopped by\|SIG" $N/jj2/logs/*.log | cut -c1-200 | tee -a $T/summary.log
  p N8e $NAS compare --seeds 1 $TINY --epochs 3 --jobs 2 --heads default,paper --out $N/jj2 ;;
esac; done
for section in "$@"; do case $section in
f4c)  # the live-lock check when the live owner is no compare's run: a user's own pretrain into the planned folder
  ( cd $T/cwd; ulimit -v 8000000; exec timeout 400 $NAS pretrain $TINY --epochs 3 --seed 0 --out_dir $N/cc7/runs --run_name default-s0 --head default > $T/o/N4f0.out 2>&1 ) &
  for i in $(seq 1 600); do [ -e $N/cc7/runs/default-s0/config.yaml ] && break; sleep 0.2; done
  p N4f $NAS compare --seeds 1 $TINY --epochs 3 --heads default --out $N/cc7
  wait
  p N4g $NAS compare --seeds 1 $TINY --epochs 3 --heads default --out $N/cc7 ;;
esac; done
