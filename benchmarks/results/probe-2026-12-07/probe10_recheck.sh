#!/bin/bash
# The tenth probe of issue #33 (h38): the ninth's F1, F2, F3, F5, re-run on a fresh `git archive` of main.
# usage: probe10_recheck.sh T   (T: a mktemp -d folder holding code/ and runs/s0, a finished search)
T=$1
D=$(dirname "$(readlink -f "$0")")
. $D/probe10_lib.sh
R=$T/re; mkdir -p $R
# F1: a user's .config.yaml.<8 hex>.nasiam.tmp alone in the folder named by --run_name (killed once config.yaml appears: the deletion is at the start)
mkdir -p $R/n/usr3 && echo precious > $R/n/usr3/.config.yaml.0123abcd.nasiam.tmp
( cd $T/cwd; ulimit -v 8000000; KW_LOG=$T/o/RF1.log $PY $D/kill_when.py $R/n/usr3 'config.yaml' 1200 -- $NAS search $TINY --warmup_epochs 0 --out_dir $R/n --run_name usr3 )
echo "RF1 $(tail -c 300 $T/o/RF1.log | tr '\n' '|') usr3: $(ls -A $R/n/usr3 | tr '\n' ' ')" | tee -a $T/summary.log
# F2: a run copied inside another run's eval/, eval's --out into the inner run's heads/
cp -r $T/runs/s0 $R/s0x && mkdir -p $R/s0x/eval && cp -r $T/runs/s0 $R/s0x/eval/inner
p RF2 $NAS eval knn $R/s0x --num_workers 0 --out $R/s0x/eval/inner/heads/knn.json
echo "RF2 inner/heads: $(ls $R/s0x/eval/inner/heads | tr '\n' ' ')" | tee -a $T/summary.log
# F3: help, version and no command with stdout full
( cd $T/cwd; $NAS search --help > /dev/full 2>$T/o/RF3a.err; echo "RF3a (search --help > /dev/full) rc=$? :: $(tail -c 300 $T/o/RF3a.err | tr '\n' '|')" | tee -a $T/summary.log )
( cd $T/cwd; $NAS --version > /dev/full 2>$T/o/RF3b.err; echo "RF3b (--version > /dev/full) rc=$? :: $(tail -c 300 $T/o/RF3b.err | tr '\n' '|')" | tee -a $T/summary.log )
( cd $T/cwd; $NAS > /dev/full 2>$T/o/RF3c.err; echo "RF3c (no command > /dev/full) rc=$? :: $(tail -c 300 $T/o/RF3c.err | tr '\n' '|')" | tee -a $T/summary.log )
# F5: float tau as numpy/torch scalars, a float64 batch, save_pretrained into a file
$PY - <<'PY' 2>&1 | tee -a $T/summary.log
import os, tempfile, numpy as np, torch
from nasiam import SearchableHead, NASHead, recalibrate_batchnorm
def p(pid, fn):
    try:
        print(pid, "ok:", repr(fn())[:160])
    except Exception as e:
        print(pid, type(e).__name__ + ":", str(e)[:200])
p("RF5a tau=np.float32(0.5)", lambda: SearchableHead(16, 8).set_sampling("gumbel", tau=np.float32(0.5)) and "set")
p("RF5b tau=torch.tensor(0.5)", lambda: SearchableHead(16, 8).set_sampling("gumbel", tau=torch.tensor(0.5)) and "set")
h = NASHead.from_genotype(SearchableHead(16, 8).genotype(), 16)
p("RF5c float64 batch", lambda: recalibrate_batchnorm(h, [torch.randn(4, 16, dtype=torch.float64)]))
f = tempfile.mktemp(dir=os.environ["T"]); open(f, "w").write("x")
p("RF5d save_pretrained into a file", lambda: h.save_pretrained(f))
PY
