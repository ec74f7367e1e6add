#!/bin/bash
# The ninth probe of issue #33 (h35): new inputs around the newest code. usage: probe9_cli.sh T SECTION...
# T: a mktemp -d folder holding code/ (git archive of main 46cab71), runs/s0, runs/p0 (probe9_recheck.sh T setup)
# and re/cc (a finished comparison, probe9_recheck.sh T b).
T=$1; shift
D=$(dirname "$(readlink -f "$0")")
. $D/probe9_lib.sh
N=$T/n; mkdir -p $N
for section in "$@"; do case $section in
stdout)  # nasiam/cli/stdout.py: standard output that cannot be written, outside and inside the wrapped block
  ( cd $T/cwd; $NAS > /dev/full 2>$T/o/O1.err; echo "O1 (no command) rc=$? tb=$(grep -c Traceback $T/o/O1.err) :: $(tail -c 400 $T/o/O1.err | tr '\n' '|')" | tee -a $T/summary.log )
  ( cd $T/cwd; $NAS search --help > /dev/full 2>$T/o/O2.err; echo "O2 (search --help) rc=$? tb=$(grep -c Traceback $T/o/O2.err) :: $(tail -c 400 $T/o/O2.err | tr '\n' '|')" | tee -a $T/summary.log )
  ( cd $T/cwd; $NAS --version > /dev/full 2>$T/o/O3.err; echo "O3 (--version) rc=$? tb=$(grep -c Traceback $T/o/O3.err) :: $(tail -c 400 $T/o/O3.err | tr '\n' '|')" | tee -a $T/summary.log )
  ( cd $T/cwd; $NAS compare --seeds 1 $TINY --heads default --report_only --out $T/re/cc >&- 2>$T/o/O4.err; echo "O4 (report, stdout closed) rc=$? tb=$(grep -c Traceback $T/o/O4.err) :: $(tail -c 400 $T/o/O4.err | tr '\n' '|')" | tee -a $T/summary.log )
  ( cd $T/cwd; $NAS compare --seeds 1 $TINY --heads default --report_only --out $T/re/cc > /dev/full 2>&1; echo "O5 (stdout and stderr /dev/full) rc=$?" | tee -a $T/summary.log )
  ( cd $T/cwd; ulimit -v 8000000; $NAS eval knn $T/runs/s0 --num_workers 0 --out $N/o6.json > /dev/full 2>$T/o/O6.err; echo "O6 (eval > /dev/full) rc=$? tb=$(grep -c Traceback $T/o/O6.err) :: $(tail -c 400 $T/o/O6.err | tr '\n' '|'); o6.json: $(ls $N/o6.json 2>&1)" | tee -a $T/summary.log ) ;;
stdout2)  # a training command whose stdout is full: resumable?
  ( cd $T/cwd; ulimit -v 8000000; $NAS search $TINY --warmup_epochs 0 --out_dir $N --run_name full > /dev/full 2>$T/o/O7.err; echo "O7 (search > /dev/full) rc=$? tb=$(grep -c Traceback $T/o/O7.err) :: $(tail -c 500 $T/o/O7.err | tr '\n' '|'); full/: $(ls $N/full | tr '\n' ' ')" | tee -a $T/summary.log )
  p O8 $NAS search $TINY --warmup_epochs 0 --resume $N/full ;;
left)  # leftovers.py: temporaries before config.yaml; new_directory's marker; new_directory's '.'
  mkdir -p $N/runs/usr3 && echo precious > $N/runs/usr3/.config.yaml.0123abcd.nasiam.tmp
  p L1 $NAS search $TINY --warmup_epochs 0 --out_dir $N/runs --run_name usr3; echo "L1 usr3: $(ls -A $N/runs/usr3 | tr '\n' ' ')" | tee -a $T/summary.log
  mkdir -p $N/x/.e7.0123456789ab.partial/.nasiam-partial && echo mine > $N/x/.e7.0123456789ab.partial/notes.txt
  p L2 $NAS export $T/runs/s0 --out $N/x/e7; echo "L2 x: $(ls -A $N/x | tr '\n' ' ')" | tee -a $T/summary.log
  mkdir -p $N/x/.e8.0123456789ab.partial $N/mk && ln -s $N/mk $N/x/.e8.0123456789ab.partial/.nasiam-partial && echo mine > $N/x/.e8.0123456789ab.partial/notes.txt
  p L3 $NAS export $T/runs/s0 --out $N/x/e8; echo "L3 x: $(ls -A $N/x | tr '\n' ' ')" | tee -a $T/summary.log
  mkdir -p $N/emp; ( cd $N/emp; ulimit -v 8000000; $NAS export $T/runs/s0 --out . >$T/o/L4.out 2>$T/o/L4.err; echo "L4 (export --out . from an empty folder) rc=$? tb=$(grep -c Traceback $T/o/L4.err) :: $(tail -c 400 $T/o/L4.err | tr '\n' '|')" | tee -a $T/summary.log )
  mkdir -p $N/x/e9
  p L5 $NAS export $T/runs/s0 --out $N/x/e9; echo "L5 e9: $(ls -A $N/x/e9 | tr '\n' ' ')" | tee -a $T/summary.log
  mkdir -p $N/x/e10/.nasiam-partial
  p L6 $NAS export $T/runs/s0 --out $N/x/e10 ;;
evallink)  # check_outside_runs: a run copied inside another's eval/; eval/knn.json a link
  cp -r $T/runs/s0 $N/s0x && mkdir -p $N/s0x/eval && cp -r $T/runs/p0 $N/s0x/eval/inner
  p V1 $NAS eval knn $N/s0x --num_workers 0 --out $N/s0x/eval/inner/heads/knn.json; echo "V1 inner/heads: $(ls $N/s0x/eval/inner/heads | tr '\n' ' ')" | tee -a $T/summary.log
  p V2 $NAS pretrain $TINY --init $N/s0x/eval/inner --out_dir $N/runs --run_name v2
  cp -r $T/runs/s0 $N/s0y && cp -r $T/runs/p0 $N/p0y && mkdir -p $N/s0y/eval && ln -sfn $N/p0y/heads/knn.json $N/s0y/eval/knn.json
  p V3 $NAS eval knn $N/s0y --num_workers 0; echo "V3 p0y/heads: $(ls $N/p0y/heads | tr '\n' ' '); s0y/eval: $(ls -l $N/s0y/eval | tail -n +2 | cut -c1-10,40- | tr '\n' ' ')" | tee -a $T/summary.log ;;
cmpdir)  # compare.json replaced by a folder while a two-run comparison trains (_record_summary writes it)
  ( cd $T/cwd; ulimit -v 8000000; $NAS compare --seeds 1 $TINY --heads default,paper --out $N/cd >$T/o/C1.out 2>$T/o/C1.err; echo "C1 rc=$? tb=$(grep -c Traceback $T/o/C1.err) :: $(tail -c 600 $T/o/C1.err | tr '\n' '|')" | tee -a $T/summary.log ) &
  while [ ! -d $N/cd/runs/default-s0/checkpoints ]; do sleep 0.5; done; mv $N/cd/compare.json $N/cd/compare.json.saved; mkdir $N/cd/compare.json; wait
  sleep 5; echo "C1 after: $(ls $N/cd | tr '\n' ' '); processes: $(pgrep -f "$N/cd" | wc -l)" | tee -a $T/summary.log ;;
esac; done
