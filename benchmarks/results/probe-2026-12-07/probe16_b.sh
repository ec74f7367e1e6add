#!/bin/bash
# probe 16 (h54), part B by command: eval (run folder, export, checkpoint, damaged and foreign
# inputs, options), push without network, pretrain --init/--head with other frameworks' exports and
# heads, signals during export/eval. Usage: probe16_b.sh PROBE_DIR (needs probe16_base.sh's runs)
P=$1; cd "$P/w" || exit 1
ulimit -v 8000000; export PYTHONPATH=$P; PY=/work/main/.venv/bin/python
TINY="--dataset synthetic --image_size 16 --batch_size 16 --epochs 1 --subset 64 --knn_subset 64 --num_workers 0"
H=/work/wt-h54/benchmarks/results/probe-2026-12-07
run() { local id=$1; shift; echo "== $id: $*"; "$@" > out.txt 2>&1; echo "rc=$?"; tail -n 2 out.txt | cut -c1-600; }
N="nasiam"
sums() { find "$@" -type f -exec sha256sum {} + 2>/dev/null | sort -k2 | sha256sum | cut -c1-12; }
# ---- eval
run EV1 $PY -m nasiam evaluate knn runs/p0
run EV2 $PY -m nasiam eval knn e0 --num_workers 0 --out ev2.json
run EV3 $PY -m nasiam eval knn runs/s0/checkpoints/last.ckpt --num_workers 0 --out ev3.json
run EV4 $PY -m nasiam eval knn runs/s0 --num_workers 0
run EV4b $PY -m nasiam export runs/s0 --out e_after_eval
run EV4c $PY -m nasiam pretrain $TINY --init runs/s0 --out_dir runs --run_name i_after_eval
run EV5 $PY -m nasiam eval knn random --dataset synthetic --image_size 16 --num_workers 0 --cifar_stem on --out ev5.json
$PY -c "import json; print('   ev5.json cifar_stem:', {k: v for k, v in json.load(open('ev5.json')).items() if 'stem' in k or k in ('backbone', 'settings')})" 2>&1 | cut -c1-300
run EV5b $PY -m nasiam eval knn random --dataset synthetic --image_size 16 --num_workers 0 --cifar_stem bogus --out ev5b.json
cp -r runs/p0 p0d; head -c 1000 runs/p0/backbone.safetensors > p0d/backbone.safetensors
run EV6 $PY -m nasiam eval knn p0d --num_workers 0 --out ev6.json
cp -r runs/p0 p0j; echo '{"arch": ' > p0j/backbone.json
run EV7 $PY -m nasiam eval knn p0j --num_workers 0 --out ev7.json
mkdir -p foreign; $PY -c "import torch, timm; m = timm.create_model('resnet10t', num_classes=0); torch.save({'state_dict': m.state_dict()}, 'foreign/model.pth')"
run EV8 $PY -m nasiam eval knn foreign --num_workers 0 --out ev8.json
run EV8b $PY -m nasiam eval knn foreign/model.pth --num_workers 0 --out ev8b.json
run EV9 $PY -m nasiam eval knn runs/p0 --num_workers 0 --k 0 --out ev9.json
run EV10 $PY -m nasiam eval knn runs/p0 --num_workers 0 --k 100000 --out ev10.json
run EV11 $PY -m nasiam eval finetune runs/p0 --num_workers 0 --epochs 0 --out ev11.json
run EV12 $PY -m nasiam eval finetune runs/p0 --num_workers 0 --label_fraction 0.0001 --epochs 1 --out ev12.json
run EV13 $PY -m nasiam eval linear runs/p0 --num_workers 0 --bank_subset 1 --out ev13.json
run EV14 $PY -m nasiam eval knn runs/p0 runs/s0 --num_workers 0
run EV15 $PY -m nasiam eval curves runs/s0 runs/p0 --labels a --out c15.png
run EV16 $PY -m nasiam eval knn runs/p0 --num_workers 0 --dataset fashion_mnist --out ev16.json
run EV17 $PY -m nasiam eval knn runs/p0 --num_workers 0 --image_size 32 --out ev17.json
mkdir -p random_dir && cp -r runs/p0 random && run EV18 $PY -m nasiam eval knn random --num_workers 0 --out ev18.json
# ---- push without network (nothing may be written, anywhere in the folder)
before=$(sums e0)
run PU1 env -u HF_TOKEN HF_HUB_DISABLE_TELEMETRY=1 timeout 120 $PY -m nasiam push e0 --repo me/heads
run PU2 env HF_TOKEN=hf_fake HF_HUB_OFFLINE=1 timeout 120 $PY -m nasiam push e0 --repo me/heads
run PU3 env HF_TOKEN=hf_fake timeout 120 $PY -m nasiam push e0 --repo me/heads --revision dev
echo "   e0 unchanged by push: $([ "$before" = "$(sums e0)" ] && echo yes || echo NO)"
run PU4 env HF_TOKEN=hf_fake timeout 60 $PY -m nasiam push e0 --repo 'me/a b'
run PU5 env HF_TOKEN=hf_fake timeout 60 $PY -m nasiam push e0 --repo me/x/y
run PU6 env HF_TOKEN=hf_fake timeout 60 $PY -m nasiam push foreign --repo me/x
run PU7 env HF_TOKEN=hf_fake timeout 60 $PY -m nasiam push runs/s1 --repo me/x
# ---- pretrain --init/--head across frameworks and widths
run IN1 $PY -m nasiam pretrain $TINY --init e1 --out_dir runs --run_name in1
run IN2 $PY -m nasiam pretrain $TINY --head e1 --out_dir runs --run_name in2
run IN3 $PY -m nasiam pretrain $TINY --head e0/heads/projector/genotype.json --out_dir runs --run_name in3
run IN4 $PY -m nasiam pretrain $TINY --init runs/s0 --proj_output_dim 256 --out_dir runs --run_name in4
run IN5 $PY -m nasiam pretrain $TINY --head runs/p0 --out_dir runs --run_name in5
run IN6 $PY -m nasiam pretrain $TINY --init e0 --backbone resnet18 --out_dir runs --run_name in6
run IN7 $PY -m nasiam pretrain $TINY --framework mocov3 --head e0 --out_dir runs --run_name in7
run IN8 $PY -m nasiam pretrain $TINY --framework simclr --init e0 --out_dir runs --run_name in8
run IN9 $PY -m nasiam pretrain $TINY --head e0/heads --out_dir runs --run_name in9
# ---- signals at odd moments of export and eval
for s in INT TERM; do
  for g in '.e_sig*' 'e_sig*'; do
    rm -rf e_sig; echo "== SG export, SIG$s at $g"; $PY $H/probe16_sig.py . "$g" $s 60 -- $PY -m nasiam export runs/s0 --out e_sig
    echo "   left: $(ls -A | grep -E '^\.?e_sig' | tr '\n' ' ') e_sig holds: $(ls -A e_sig 2>/dev/null | tr '\n' ' ')"
    rm -rf e_sig .e_sig*
  done
  for d in 0.3 1.5 3; do
    echo "== SG eval knn runs/p0, SIG$s after ${d}s"; $PY $H/probe16_sig.py . - $s $d -- $PY -m nasiam eval knn runs/p0 --num_workers 0 --out sig_$s$d.json
    echo "   left: $(ls -A | grep -E 'sig_' | tr '\n' ' ') runs/p0/eval: $(ls -A runs/p0/eval | tr '\n' ' ')"
  done
done
