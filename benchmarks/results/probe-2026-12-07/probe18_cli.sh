#!/bin/bash
# probe 18 (h57): h55's fixes by command: eval's channel check (M3), --cifar_stem words (M4), eval's
# file/export/random targets (M14), --out under an unwritable or a new folder (M11), export's stdout
# (M10), pretrain --init of the same/another method (M5). Usage: probe18_cli.sh PROBE_DIR
P=$1; cd "$P/w" || exit 1
ulimit -v 8000000; export PYTHONPATH=$P/new; PY=/work/main/.venv/bin/python
TINY="--dataset synthetic --image_size 16 --batch_size 16 --epochs 1 --subset 64 --knn_subset 64 --num_workers 0"
EV="--bank_subset 64 --num_workers 0 --batch_size 16"
NOCAP="setpriv --bounding-set=-dac_override,-dac_read_search,-fowner --inh-caps=-all"
c() { local id=$1; shift; echo "== $id: $*"; timeout 300 "$@" > $id.log 2>&1; echo "   rc=$?"; grep -v "^\s*$" $id.log | tail -3 | cut -c1-400 | sed 's/^/   /'; }
mkdir -p ro; chmod 555 ro
c E1 $PY -m nasiam eval knn runs/s0 $EV --out ev/e1.json
c E2 $PY -m nasiam eval knn runs/s0 $EV --dataset fashion_mnist --data_root /usr/share/datasets/fashion-mnist --out ev/e2.json
c E3 $PY -m nasiam eval knn runs/s0/config.yaml $EV
c E4 $PY -m nasiam eval knn e0 $EV
c E5 $PY -m nasiam eval knn random --dataset synthetic --image_size 16 $EV --out ev/r.json
mkdir -p rnd && cp -r runs/s0 rnd/random && (cd rnd && c E6 $PY -m nasiam eval knn ./random $EV --out ../ev/e6.json)
(cd rnd && c E7 $PY -m nasiam eval knn random --dataset synthetic --image_size 16 $EV --out ../ev/e7.json)
for w in yes no true off 1 maybe; do c E8-$w $PY -m nasiam eval knn random --dataset synthetic --image_size 16 --cifar_stem $w $EV --out ev/cs-$w.json; done
c E9 $NOCAP $PY -m nasiam eval knn runs/s0 $EV --out ro/x.json
c E10 $PY -m nasiam eval knn runs/s0 $EV --out new/deep/folder/x.json
c E11 $NOCAP $PY -m nasiam eval curves runs/s0 runs/p0 --out ro/c.png
c E12 $PY -m nasiam eval curves runs/s0 runs/p0 --out newc/deep/c.png
c E13 $NOCAP $PY -m nasiam eval knn runs/s0 $EV --out ro
echo "== X1-X4: export with stdout to a file, /dev/null, a pipe, closed"
$PY -m nasiam export runs/s0 --out x1 > x1.stdout 2> x1.err; echo "   X1 rc=$? $(wc -c < x1.stdout) bytes; $(tail -1 x1.err)"
$PY -m nasiam export runs/s0 --out x2 > /dev/null 2> x2.err; echo "   X2 rc=$? $(tail -1 x2.err)"
$PY -m nasiam export runs/s0 --out x3 2> x3.err | cat > x3.stdout; echo "   X3 rc=${PIPESTATUS[0]} $(wc -c < x3.stdout) bytes"
$PY -m nasiam export runs/s0 --out x4 >&- 2> x4.err; echo "   X4 rc=$? $(tail -1 x4.err | cut -c1-300); x4 exists: $(ls -d x4 2>/dev/null || echo no)"
$PY -m nasiam export runs/s0 --out x5 2> x5.err | head -c 0; echo "   X5 (| head -c 0) rc=${PIPESTATUS[0]} $(tail -1 x5.err | cut -c1-200); x5: $(ls x5 2>/dev/null | tr '\n' ' ')"
c I1 $PY -m nasiam pretrain $TINY --init e0 --out_dir runs --run_name i1
c I2 $PY -m nasiam pretrain $TINY --init runs/s0 --out_dir runs --run_name i2
c I3 $PY -m nasiam pretrain $TINY --init runs/p0 --out_dir runs --run_name i3
c I4 $PY -m nasiam pretrain $TINY --framework simclr --init runs/p0 --out_dir runs --run_name i4
c I5 $PY -m nasiam pretrain $TINY --framework simclr --init ce0 --out_dir runs --run_name i5
c I6 $PY -m nasiam pretrain $TINY --init ce0 --out_dir runs --run_name i6
