#!/bin/bash
# Probe 21 (#33): eval curves: --labels, formats, averaging (runs from the earlier probes in this folder)
ulimit -v 8000000
NAS="env PYTHONPATH=/work/wt-h63 timeout 200 /work/main/.venv/bin/python -m nasiam"
c() { local label=$1; shift; echo "=== $label: eval curves $*"; $NAS eval curves "$@" > log.cv 2>&1; rc=$?; grep -v "^\s*$" log.cv | cut -c1-400 | tail -3; echo "rc=$rc"; }
mkdir -p cv; echo x > cv/afile
c K1 cruns/c0 cruns/c1 --labels a --out cv/k1.png
c K2 cruns/c0 cruns/c1 --labels "a,b,c" --out cv/k2.png
c K3 cruns/c0 cruns/c1 --labels "," --out cv/k3.png
c K4 cruns/c0 cruns/c1 --labels "a, a" --out cv/k4.png
c K5 cruns/c0 cruns/c1 --labels "s,s" --out cv/k5.png
c K6 cruns/c0 --out cv/k6
c K7 cruns/c0 --out cv
c K8 cruns/c0 --out cv/afile/x.png
c K9 cruns/c0 --out /proc/k9.png
c K10 cruns/c0 pruns/s0 --labels "pre,search" --out cv/k10.svg
c K11 cruns/c0 lruns/w1 --out cv/k11.png
c K12 cruns/c0 --labels "$(printf 'a\nb')" --out cv/k12.png
c K13 cruns/c0 cruns/c0 --out cv/k13.png
ls -la cv
c K14 cruns/c0 cruns/c1 --labels "" --out cv/k14.png
c K15 cruns/c0 cruns/c1 --labels "x,x" --out cv/k15.pdf
c K16 cruns/c0 --labels '$\\alpha$' --out cv/k16.png
c K17 cruns/c0 --labels "$(head -c 3000 /dev/zero | tr '\0' a)" --out cv/k17.png
c K18 cruns/c0 cruns/c1 --labels "a,b" --out cv/k18.png --dataset cifar10
