#!/bin/bash
# Probe 12 (h43), part 3: `nasiam sweep` with odd sweep files and options, each against a missing
# image folder (a trial that starts fails at once on its data, so nothing trains).
# usage: bash probe12_sweep.sh TMPDIR  (TMPDIR holds nasiam/)
T=$1; . "$(dirname "$0")/probe12_lib.sh"
mkdir -p $T/c/sw && cd $T/c/sw
base() {  # base NAME EXTRA_PARAMETER_LINES [TOP_LEVEL_LINES]: a random sweep of one trial's worth
  printf 'name: %s\nmethod: random\nmetric:\n  name: knn_top1\n  goal: maximize\n%sparameters:\n  dataset:\n    value: imagefolder\n  data_root:\n    value: %s/c/sw/nodata\n  epochs:\n    value: 1\n  arch_lr:\n    values: [0.01, 0.02]\n%s' \
    "$1" "${3:-}" "$T" "${2:-}" > $1.yaml; }
base ok
TO=120 p SW0 nasiam sweep --config $T/c/sw/ok.yaml --trials 1 --sweep_dir $T/c/sw/d
base cmd "" $'program: evil.py\ncommand: [rm, -rf, /tmp/never]\n'
TO=60 p SW1 nasiam sweep --config $T/c/sw/cmd.yaml --trials 1 --sweep_dir $T/c/sw/d
base bigrid $'  lr:\n    values: [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1]\n  seed:\n    distribution: int_uniform\n    min: 0\n    max: 1000000000000\n'
sed -i 's/method: random/method: grid/' bigrid.yaml
TO=60 p SW2 nasiam sweep --config $T/c/sw/bigrid.yaml --sweep_dir $T/c/sw/d
TO=60 p SW3 nasiam sweep --config $T/c/sw/ok.yaml --trials 1 --name ../../escaped --sweep_dir $T/c/sw/d
ls -d $T/c/escaped* $T/escaped* 2>/dev/null
TO=60 p SW4 nasiam sweep --config $T/c/sw/ok.yaml --trials 1 --name $'n\e[2Jx' --sweep_dir $T/c/sw/d
TO=60 p SW5 nasiam sweep --config $T/c/sw/ok.yaml --trials 1 --sweep_dir /dev/null
printf 'name: py\nmethod: random\nparameters:\n  epochs: !!python/object/apply:os.system ["echo PWNED"]\n' > py.yaml
TO=60 p SW6 nasiam sweep --config $T/c/sw/py.yaml --trials 1 --sweep_dir $T/c/sw/d
base evil $'  evil:\n    value: 1\n'
TO=60 p SW7 nasiam sweep --config $T/c/sw/evil.yaml --trials 1 --sweep_dir $T/c/sw/d
base rn $'  run_name:\n    value: ../../x\n'
TO=60 p SW8 nasiam sweep --config $T/c/sw/rn.yaml --trials 1 --sweep_dir $T/c/sw/d
# SW9 (--trials 0, -1, 10**12) ran in a first pass: exit 2 "--trials must be between 1 and 10000" each
base hb "" $'early_terminate:\n  type: hyperband\n  min_iter: 1\n  eta: 1\n'
TO=60 p SW10 nasiam sweep --config $T/c/sw/hb.yaml --trials 1 --sweep_dir $T/c/sw/d
base hb2 "" $'early_terminate:\n  type: hyperband\n  min_iter: 1\n  eta: 2\n  s: 1000000000\n'
TO=60 p SW11 nasiam sweep --config $T/c/sw/hb2.yaml --trials 1 --sweep_dir $T/c/sw/d
base met ""; sed -i 's/name: knn_top1/name: "\\e[2J"/' met.yaml
TO=60 p SW12 nasiam sweep --config $T/c/sw/met.yaml --trials 1 --sweep_dir $T/c/sw/d
find $T/c/sw/d -maxdepth 2 | head -20
