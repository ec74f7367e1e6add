#!/bin/bash
# Thirteenth probe of #33 (h46): standard output/error encodings, closed streams, odd --out_dir/--sweep_dir.
# Usage: PYTHONPATH=<archive copy> bash probe13_cli.sh WORKDIR
W=$1; mkdir -p "$W"; cd "$W" || exit 1
N="/work/main/.venv/bin/python -m nasiam"
TINY="--dataset synthetic --image_size 16 --batch_size 16 --epochs 1 --subset 64 --knn_subset 64 --num_workers 0"
run() { local id=$1; shift; echo "== $id: $*"; ( eval "$@" ) > o.txt 2> e.txt; rc=$?; echo "rc=$rc"; echo "-- stdout:"; head -c 600 o.txt | cat -v | tail -5; echo "-- stderr:"; head -c 1500 e.txt | cat -v | tail -8; }
run ENC1-report-ascii "PYTHONIOENCODING=ascii $N compare --seeds 1 $TINY --heads default,paper --report_only --out r1"
run ENC2-report-utf16 "PYTHONIOENCODING=utf-16 $N compare --seeds 1 $TINY --heads default,paper --report_only --out r1 | iconv -f utf-16 -t utf-8 | tail -3"
run ENC3-report-ascii-strict-both "PYTHONIOENCODING=ascii:strict $N compare --seeds 1 $TINY --heads default,paper --report_only --out r1"
mkdir -p "$(printf 'lab/h\xff\xe9')"
run ENC4-surrogate-path-stderr-ascii-strict "PYTHONIOENCODING=ascii:strict $N compare --seeds 1 $TINY --heads \"\$(printf 'lab/h\xff\xe9')\",paper --report_only --out r4"
run ENC5-surrogate-path-stderr-utf16 "PYTHONIOENCODING=utf-16 $N compare --seeds 1 $TINY --heads \"\$(printf 'lab/h\xff\xe9')\",paper --report_only --out r5"
run ENC6-report-stdout-closed "$N compare --seeds 1 $TINY --heads default,paper --report_only --out r1 >&-"
run ENC7-help-stdout-closed "$N --help >&-"
run ENC8-report-both-closed "$N compare --seeds 1 $TINY --heads default,paper --report_only --out r1 >&- 2>&-"
run ENC9-report-latin1-stderr-strict "PYTHONIOENCODING=latin-1:strict $N compare --seeds 1 $TINY --heads default,paper --report_only --out r1"
mkfifo ff
run ND1-out_dir-fifo "timeout 60 $N pretrain $TINY --out_dir ff --run_name a"
ln -s /nonexistent-h46 dl; mkdir -p runs; ln -s /nonexistent-h46 runs/dangl
run ND2-out_dir-dangling-link "timeout 60 $N pretrain $TINY --out_dir dl --run_name a"
run ND3-run_name-dangling-link "timeout 60 $N pretrain $TINY --out_dir runs --run_name dangl"
run ND4-out_dir-proc "timeout 60 $N pretrain $TINY --out_dir /proc/self/h46 --run_name a"
run ND5-sweep_dir-fifo "timeout 60 $N sweep --config /work/wt-h46/recipes/sweeps/cpu_smoke.yaml --trials 1 --sweep_dir ff"
run ND6-sweep_dir-proc "timeout 60 $N sweep --config /work/wt-h46/recipes/sweeps/cpu_smoke.yaml --trials 1 --sweep_dir /proc/self/h46"
ls -la "$W" runs | cat -v
