#!/bin/bash
# Probe 12 (h43), part 2: the baseline export time beside CK-dup-export, standard output in ASCII.
# usage: bash probe12_more.sh TMPDIR  (TMPDIR holds nasiam/ and runs/s0)
T=$1; . "$(dirname "$0")/probe12_lib.sh"
cd $T/c
rm -rf $T/c/bx
p CK-baseline-export nasiam export $T/runs/s0 --out $T/c/bx
for enc in ascii latin-1; do
  PYTHONIOENCODING=$enc p ENC-$enc-help nasiam --help
  PYTHONIOENCODING=$enc p ENC-$enc-report nasiam compare --seeds 1 $TINY --heads default,paper --report_only --out $T/c/enc-$enc
  PYTHONIOENCODING=$enc p ENC-$enc-usage nasiam search --epochs $'\u00e9'
done
