#!/bin/bash
# Fourteenth probe of #33 (h49): commands. Usage: probe14_cli.sh SECTION  (in the probe folder's cli/, PYTHONPATH at the copy)
# Sections: imagefolder, export, resume, logger, names, sweep, compare.
set -u
N="timeout 300 /work/main/.venv/bin/python -m nasiam"
PY=/work/main/.venv/bin/python
TINY="--dataset synthetic --image_size 16 --batch_size 16 --epochs 1 --subset 64 --knn_subset 64 --num_workers 0"
IMG="--dataset imagefolder --image_size 16 --batch_size 4 --epochs 1 --num_workers 0 --knn_subset 16"
run() {  # id, then the command: prints the exit code and the last lines, control characters made visible
  local id=$1; shift
  local t0=$(date +%s.%N)
  "$@" > "out.$id" 2>&1; local rc=$?
  printf '%s: rc=%s (%.0fs) | %s\n' "$id" "$rc" "$(echo "$(date +%s.%N) - $t0" | bc)" "$(grep -v '^\s*$' "out.$id" | grep -iv 'warn\|tip:' | tail -3 | cut -c1-330 | cat -v | tr '\n' '|')"
}
mkimgs() {  # folder, mode (l16 | l8 | mixed), classes...
  local d=$1 mode=$2; shift 2
  $PY - "$d" "$mode" "$@" <<'PYEOF'
import sys, numpy as np
from pathlib import Path
from PIL import Image
d, mode, classes = sys.argv[1], sys.argv[2], sys.argv[3:]
rng = np.random.default_rng(0)
for split, n in (("train", 8), ("val", 4)):
    for c, name in enumerate(classes):
        p = Path(d, split, name); p.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            a = (rng.random((20, 20)) * 0.5 + 0.25 * c)            # distinct per class, values in 0..1
            if mode == "l16":
                Image.fromarray((a * 65535).astype(np.uint16)).save(p / f"{i}.png")
            elif mode == "l8":
                Image.fromarray((a * 255).astype(np.uint8)).save(p / f"{i}.png")
            else:
                im = Image.fromarray((np.stack([a] * 3, -1) * 255).astype(np.uint8))
                [im.convert("CMYK").save(p / f"{i}.jpg"), im.convert("RGBA").save(p / f"{i}.png"),
                 im.convert("P").save(p / f"{i}.gif"), im.convert("L").save(p / f"{i}.bmp")][i % 4]
PYEOF
}
case $1 in
imagefolder)
  mkimgs if16 l16 a b; mkimgs if8 l8 a b; mkimgs ifone l8 only; mkimgs ifmix mixed a b
  $PY -c "from PIL import Image; import numpy as np; print('IF16 first image:', Image.open('if16/train/a/0.png').mode, 'as RGB:', np.unique(np.asarray(Image.open('if16/train/a/0.png').convert('RGB'))).tolist()[:6])"
  run IF1-16bit-gray-folder $N pretrain $IMG --data_root if16 --out_dir runs --run_name if16
  run IF2-8bit-same-folder $N pretrain $IMG --data_root if8 --out_dir runs --run_name if8
  for r in if16 if8; do echo "$r summary: $($PY -c "import json; s=json.load(open('runs/$r/summary.json')); print({k: v for k, v in s.items() if 'knn' in k or 'probe' in k or 'linear' in k})" 2>&1 | cut -c1-300)"; done
  run IF3-one-class $N pretrain $IMG --data_root ifone --out_dir runs --run_name ifone
  run IF4-mixed-modes $N pretrain $IMG --data_root ifmix --out_dir runs --run_name ifmix
  ;;
export)
  run EX0-export $N export runs/s0 --out e1
  run EX1-init-ok $N pretrain $TINY --init e1 --out_dir runs --run_name ex1
  run EX2-init-other-framework $N pretrain $TINY --init e1 --framework simclr --out_dir runs --run_name ex2
  run EX3-init-other-image_size $N pretrain ${TINY/--image_size 16/--image_size 32} --init e1 --out_dir runs --run_name ex3
  run EX4-init-other-backbone $N pretrain $TINY --init e1 --backbone resnet10t --out_dir runs --run_name ex4
  cp -r e1 e5 && sed -i 's/^framework: .*/framework: simclr/' e5/config.yaml
  run EX5-init-config-edited $N pretrain $TINY --init e5 --out_dir runs --run_name ex5
  cp -r e1 e6 && cp -r runs/s0/heads/predictor/. e6/heads/projector/ 2>/dev/null; run EX6-init-projector-replaced-by-predictor $N pretrain $TINY --init e6 --out_dir runs --run_name ex6
  cp -r e1 e7 && rm e7/export.json; run EX7-init-export.json-removed $N pretrain $TINY --init e7 --out_dir runs --run_name ex7
  cp -r e1 e8 && $PY -c "import json; p='e8/export.json'; d=json.load(open(p)); d['run']='../../etc'; json.dump(d, open(p,'w'))" ; run EX8-export.json-fields-edited $N pretrain $TINY --init e8 --out_dir runs --run_name ex8
  run EX9-export-of-pretrain-run $N export runs/ex1 --out e9
  run EX10-export-out-unicode $N export runs/s0 --out "e10-ü‮x"
  run EX11-export-out-inside-run $N export runs/s0 --out runs/s0/heads/x
  run EX12-init-run-still-locked bash -c "( $N search $TINY --warmup_epochs 0 --epochs 3 --out_dir runs --run_name busy > out.busy 2>&1 & ); sleep 8; $N pretrain $TINY --init runs/busy --out_dir runs --run_name ex12; echo init-rc=\$?; wait"
  ;;
export2)   # EX4 and EX5 again: the synthetic default backbone is resnet10t already, and an export has no config.yaml
  run EX4b-init-other-backbone-resnet18 $N pretrain $TINY --init e1 --backbone resnet18 --out_dir runs --run_name ex4b
  cp -r e1 e5b && sed -i 's/"cifar_stem": false/"cifar_stem": true/' e5b/backbone.json; run EX5b-init-backbone.json-edited $N pretrain $TINY --init e5b --out_dir runs --run_name ex5b
  ;;
resume)
  cp -r runs/s0 runs/r1; run RS1-resume-more-epochs $N search $TINY --epochs 2 --warmup_epochs 0 --out_dir runs --run_name r1 --resume
  cp -r runs/s0 runs/r2; run RS2-resume-other-framework $N search $TINY --framework simclr --warmup_epochs 0 --out_dir runs --run_name r2 --resume
  cp -r runs/s0 runs/r3; run RS3-resume-other-seed $N search $TINY --seed 5 --warmup_epochs 0 --out_dir runs --run_name r3 --resume
  cp -r runs/s0 runs/r4 && sed -i 's/^framework: .*/framework: simclr/' runs/r4/config.yaml; run RS4-config-edited-then-resume $N search $TINY --warmup_epochs 0 --epochs 2 --out_dir runs --run_name r4 --resume
  cp -r runs/s0 runs/r5 && sed -i 's/^lr: .*/lr: 99.0/' runs/r5/config.yaml; run RS5-config-lr-edited-then-resume-defaults $N search --resume runs/r5
  cp -r runs/s0 runs/r6; run RS6-resume-search-as-pretrain $N pretrain $TINY --out_dir runs --run_name r6 --resume
  run RS7-resume-path-to-other-run $N search $TINY --warmup_epochs 0 --epochs 2 --out_dir runs --run_name r7 --resume=runs/s0
  run RS7b-s0-untouched ls runs/s0/checkpoints
  cp -r runs/s0 runs/r8 && rm runs/r8/config.yaml; run RS8-no-config.yaml $N search --resume runs/r8 --epochs 2
  cp -r runs/s0 runs/r9 && echo 'evil: !!python/object/apply:os.system ["touch PWNED"]' >> runs/r9/config.yaml; run RS9-config-yaml-tag $N search --resume runs/r9 --epochs 2; ls PWNED 2>/dev/null
  cp -r runs/s0 runs/r10 && cp runs/ex1/checkpoints/last.ckpt runs/r10/checkpoints/last.ckpt; run RS10-pretrain-ckpt-in-search-run $N search --resume runs/r10 --epochs 2
  ;;
logger)
  run LG1-tensorboard-unicode-run $N pretrain $TINY --logger csv,tensorboard --out_dir runs --run_name "tb-ü-😀"
  run LG1b-tb-files find "runs/tb-ü-😀/logs" -maxdepth 3
  export WANDB_MODE=offline WANDB_SILENT=true WANDB_DIR=$PWD/wandbdir; mkdir -p wandbdir
  run LG2-wandb-offline $N pretrain $TINY --wandb --wandb_mode offline --out_dir runs --run_name wb1
  run LG3-wandb-project-slash $N pretrain $TINY --wandb --wandb_mode offline --wandb_project "a/b" --out_dir runs --run_name wb2
  run LG4-wandb-project-ESC $N pretrain $TINY --wandb --wandb_mode offline --wandb_project $'p\e[2J' --out_dir runs --run_name wb3
  run LG5-wandb-project-300 $N pretrain $TINY --wandb --wandb_mode offline --wandb_project "$(printf 'p%.0s' {1..300})" --out_dir runs --run_name wb4
  run LG6-wandb-entity-unicode $N pretrain $TINY --wandb --wandb_mode offline --wandb_entity "ü‮" --out_dir runs --run_name wb5
  run LG7-logger-nope $N pretrain $TINY --logger csv,nope --out_dir runs --run_name lg7
  run LG8-logger-empty $N pretrain $TINY --logger "" --out_dir runs --run_name lg8
  run LG9-wandb-run-name-unicode $N pretrain $TINY --wandb --wandb_mode offline --out_dir runs --run_name "wb-é‮"
  run LG10-wandb-dir-outside find . -maxdepth 2 -name 'wandb*' -newer runs/s0/summary.json
  ;;
names)
  run NM1-run_name-85-e-acute $N pretrain $TINY --out_dir runs --run_name "$(printf 'é%.0s' {1..85})" --epochs 1
  run NM2-run_name-130-e-acute $N pretrain $TINY --out_dir runs --run_name "$(printf 'é%.0s' {1..130})"
  run NM3-run_name-64-emoji $N pretrain $TINY --out_dir runs --run_name "$(printf '😀%.0s' {1..64})"
  run NM4-out_dir-component-300-bytes $N pretrain $TINY --out_dir "$(printf 'é%.0s' {1..150})" --run_name a
  run NM5-run_name-combining-only $N pretrain $TINY --out_dir runs --run_name $'\xcc\x81'
  run NM6-run_name-NFD-vs-NFC bash -c "$N pretrain $TINY --out_dir runs --run_name $'e\xcc\x81' && $N pretrain $TINY --out_dir runs --run_name $'\xc3\xa9' --resume=auto; ls runs | grep -c '^e\|^é'"
  run NM7-run_name-zero-width $N pretrain $TINY --out_dir runs --run_name $'a\u200bb'
  run NM8-run_name-fullwidth-slash $N pretrain $TINY --out_dir runs --run_name $'a\uff0fb'
  run NM9-sweep-name-unicode $N sweep --config ../recipes/sweeps/cpu_smoke.yaml --trials 1 --sweep_dir sw --name "$(printf 'é%.0s' {1..130})"
  run NM10-compare-label-unicode $N compare --seeds 1 $TINY --heads "é=default,paper" --report_only --out cmpu
  run NM11-compare-label-long $N compare --seeds 1 $TINY --heads "$(printf 'é%.0s' {1..130})=default,paper" --report_only --out cmpl
  run NM12-export-out-300-bytes $N export runs/s0 --out "$(printf 'é%.0s' {1..150})"
  ;;
sweep)
  cat > tiny.yaml <<'YEOF'
name: tiny
method: random
metric: {name: knn_top1, goal: maximize}
parameters:
  arch_lr: {distribution: log_uniform_values, min: 0.01, max: 0.1}
  dataset: {value: synthetic}
  subset: {value: 64}
  knn_subset: {value: 64}
  image_size: {value: 16}
  batch_size: {value: 16}
  epochs: {value: 1}
  warmup_epochs: {value: 0}
  num_workers: {value: 0}
YEOF
  run SWR1-tiny-sweep-1-trial $N sweep --config tiny.yaml --trials 1 --sweep_dir sw
  sed 's/epochs: {value: 1}/epochs: {value: 2}/; s/min: 0.01, max: 0.1/min: 0.5, max: 0.9/' tiny.yaml > tiny2.yaml && sed -i 's/^name: tiny$/name: tiny/' tiny2.yaml
  run SWR2-same-study-file-edited-epochs-and-range $N sweep --config tiny2.yaml --name tiny --trials 2 --sweep_dir sw
  $PY -c "import optuna; s=optuna.load_study(study_name='tiny', storage='sqlite:///sw/tiny/optuna.db'); print('SWR2 trials:', [(t.number, t.state.name, round(t.params.get('arch_lr', 0), 3)) for t in s.trials], 'best:', s.best_trial.number)" 2>&1 | tail -1
  sed 's/goal: maximize/goal: minimize/' tiny.yaml > tiny3.yaml
  run SWR3-same-study-goal-flipped $N sweep --config tiny3.yaml --name tiny --trials 3 --sweep_dir sw
  sed 's/name: knn_top1/name: loss/' tiny.yaml > tiny4.yaml
  run SWR4-same-study-metric-changed $N sweep --config tiny4.yaml --name tiny --trials 3 --sweep_dir sw
  sed 's/method: random/method: grid/; s/arch_lr: {distribution: log_uniform_values, min: 0.01, max: 0.1}/arch_lr: {values: [0.01, 0.02]}/' tiny.yaml > tiny5.yaml
  run SWR5-same-study-method-grid $N sweep --config tiny5.yaml --name tiny --sweep_dir sw
  $PY -c "import optuna; s=optuna.load_study(study_name='tiny', storage='sqlite:///sw/tiny/optuna.db'); print('final trials:', [(t.number, t.state.name, round(t.params.get('arch_lr', 0), 3), t.value) for t in s.trials])" 2>&1 | tail -1
  ls sw/tiny sw/tiny/trials
  ;;
compare)
  C="$N compare --seeds 1 $TINY --heads default,paper --out cmp"
  run CR1-compare $C
  $PY -c "import json; d=json.load(open('cmp/compare.json')); print('compare.json keys:', sorted(d))"
  ls cmp cmp/runs
  cp cmp/runs/paper-s0/summary.json /tmp/h49-paper-summary.json
  $PY -c "import json; p='cmp/runs/paper-s0/summary.json'; d=json.load(open(p)); d['knn_top1']=99.9; json.dump(d, open(p,'w'))"
  run CR2-summary-edited $C
  cp /tmp/h49-paper-summary.json cmp/runs/paper-s0/summary.json
  sed -i 's/^lr: .*/lr: 0.5/' cmp/runs/paper-s0/config.yaml
  run CR3-run-config.yaml-edited $C
  git -C . status >/dev/null 2>&1; cp -r cmp/runs/paper-s0 /tmp/h49-paper-s0.bak
  rm -rf cmp/runs/paper-s0 && cp -r cmp/runs/default-s0 cmp/runs/paper-s0
  run CR4-row-folder-replaced-by-other-row $C
  rm -rf cmp/runs/paper-s0 && cp -r /tmp/h49-paper-s0.bak cmp/runs/paper-s0 && sed -i 's/^lr: 0.5/lr: 0.05/' cmp/runs/paper-s0/config.yaml
  run CR5-seeds-2-extends $N compare --seeds 2 $TINY --heads default,paper --out cmp
  run CR6-heads-reordered $N compare --seeds 2 $TINY --heads paper,default --out cmp --report_only
  run CR7-heads-one-dropped $N compare --seeds 2 $TINY --heads default --out cmp --report_only
  run CR8-compare.json-deleted bash -c "rm cmp/compare.json && $N compare --seeds 2 $TINY --heads default,paper --out cmp --report_only"
  ;;
sweepkill)   # a sweep SIGKILLed mid-trial (#33 item 11: "sweep leaves a SIGKILLed trial running and never resumes it")
  sed 's/^name: tiny$/name: tk/; s/epochs: {value: 1}/epochs: {value: 4}/' tiny.yaml > tk.yaml
  setsid $N sweep --config tk.yaml --trials 2 --sweep_dir swk > out.SK1 2>&1 & pid=$!
  for i in $(seq 1 60); do sleep 1; ls swk/tk/trials/trial-0/checkpoints/epoch=2.ckpt >/dev/null 2>&1 && break; done
  kill -KILL -- -$pid; wait $pid 2>/dev/null; echo "SK1: killed at ${i}s; trial-0 holds: $(ls swk/tk/trials/trial-0/checkpoints | tr '\n' ' ')"
  run SK2-same-command-again $N sweep --config tk.yaml --trials 2 --sweep_dir swk
  grep -i "resum\|retr\|trial 0\|trial 1\|trial 2" out.SK2-same-command-again | head -6 | cut -c1-200
  $PY -c "import optuna; s=optuna.load_study(study_name='tk', storage='sqlite:///swk/tk/optuna.db'); print('SK trials:', [(t.number, t.state.name, t.user_attrs.get('retry_of'), t.value) for t in s.trials])" 2>&1 | tail -1
  ls swk/tk/trials
  ;;
extra)   # follow-ups run by hand after the sections above (output: probe14_cli_extra.out)
  cp -r runs/r1 runs/r9b && echo 'evil: !!python/object/apply:os.system ["touch PWNED"]' >> runs/r9b/config.yaml
  run RS9b-config-yaml-tag-same-options $N search $TINY --warmup_epochs 0 --epochs 3 --resume runs/r9b; ls PWNED 2>&1
  export WANDB_MODE=offline WANDB_SILENT=true
  run LG3b-rerun-fixed-project $N pretrain $TINY --wandb --wandb_mode offline --wandb_project ab --out_dir runs --run_name wb2
  run LG3c-disabled-mode-slash $N pretrain $TINY --wandb --wandb_mode disabled --wandb_project "a/b" --out_dir runs --run_name wb6
  for t in "" "--trials 2" "--trials 5"; do run "SWR5b-again-'$t'" $N sweep --config tiny5.yaml --name tiny --sweep_dir sw $t; done
  $PY -c "import json; p='cmp/runs/paper-s1/summary.json'; d=json.load(open(p)); d['knn_top1']=99.9; json.dump(d, open(p,'w'))" && rm cmp/compare.json
  run CR9-compare.json-lost-and-summary-forged $N compare --seeds 2 $TINY --heads default,paper --out cmp --report_only; grep -c 99.9 cmp/results.csv
  # IF5/IF6: class folders named with ESC, RTL override, newline (made by the Python block in the report); pretrain $IMG --data_root ifesc / ifesc2
  ;;
esac
