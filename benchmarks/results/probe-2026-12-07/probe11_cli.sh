#!/bin/bash
# Probe 11 (h41): the probes that run nasiam as a command (training ones included), one at a time.
# usage: bash probe11_cli.sh TMPDIR  (TMPDIR holds runs/s0, a finished tiny search)
echo 10 > /proc/self/autogroup
ulimit -v 8000000
T=$1; cd "$T" || exit 1
export PYTHONPATH=$T
PY=/work/main/.venv/bin/python
HERE=/work/wt-h41/benchmarks/results/probe-2026-12-07
TINY="--dataset synthetic --image_size 16 --batch_size 16 --epochs 1 --subset 64 --knn_subset 64 --num_workers 0"
nasiam() { timeout 300 $PY -m nasiam "$@"; }
tb() { grep -c "Traceback" "$1"; }
mkdir -p cli && cd cli
garble() {  # garble FILE PYEXPR: edit a checkpoint's bytes in place (b: bytearray; G: its length)
  $PY -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); $2; open(p,'wb').write(b)" "$1"; }

echo "== G6 re-run: 64 bytes garbled at 5 % of last.ckpt, then export and --resume of the finished run"
cp -r ../runs/s0 flip2
garble flip2/checkpoints/last.ckpt "i=len(b)//20; b[i:i+64]=bytes(x^0xff for x in b[i:i+64])"
nasiam export flip2 --out x1c > g6a.txt 2>&1; echo "G6 export rc=$? tracebacks=$(tb g6a.txt) :: $(tail -c 400 g6a.txt | tr '\n' ' ')"
nasiam search $TINY --warmup_epochs 0 --resume flip2 > g6b.txt 2>&1; echo "G6 resume rc=$? tracebacks=$(tb g6b.txt) :: $(tail -c 400 g6b.txt | tr '\n' ' ')"
$PY -c "
from safetensors.torch import load_file; import torch
a=load_file('../runs/s0/backbone.safetensors'); b=load_file('flip2/backbone.safetensors')
print('G6 flip2 backbone equal to s0:', all(torch.equal(a[k], b[k]) for k in a))"

echo "== Z-CLI: a checkpoint whose central-directory name has a UTF-8-invalid byte (one byte), then export / --resume"
for k in utf8 enc meth; do
  cp -r ../runs/s0 z$k
  case $k in
    utf8) garble z$k/checkpoints/last.ckpt "o=b.rfind(b'PK\x05\x06'); import struct; c=struct.unpack('<I', b[o+16:o+20])[0]; b[c+46]=0xff";;
    enc)  garble z$k/checkpoints/last.ckpt "o=b.rfind(b'PK\x05\x06'); import struct; c=struct.unpack('<I', b[o+16:o+20])[0]; b[c+8]|=1";;
    meth) garble z$k/checkpoints/last.ckpt "o=b.rfind(b'PK\x05\x06'); import struct; c=struct.unpack('<I', b[o+16:o+20])[0]; b[c+10]=99";;
  esac
  nasiam export z$k --out xz$k > z$k-a.txt 2>&1; echo "Z-CLI-$k export rc=$? tracebacks=$(tb z$k-a.txt) :: $(tail -n 1 z$k-a.txt | cut -c1-300)"
  nasiam search $TINY --warmup_epochs 0 --resume z$k > z$k-b.txt 2>&1; echo "Z-CLI-$k resume rc=$? tracebacks=$(tb z$k-b.txt) :: $(tail -n 1 z$k-b.txt | cut -c1-300)"
done

echo "== G4 re-run: one row's own --data_root refused (exit 2), a default row beside it; then the same command again"
$PY $HERE/../probe-2026-12-07/probe10_images.py img/pnghuge pnghuge > /dev/null 2>&1
G4="x=default(--dataset=imagefolder --data_root=$PWD/img/pnghuge --batch_size=4 --knn_subset=16 --subset=16),default"
nasiam compare --seeds 1 $TINY --heads "$G4" --out rf > g4a.txt 2>&1; echo "G4 rc=$? tracebacks=$(tb g4a.txt) runs: $(ls rf/runs | tr '\n' ' ') :: $(tail -c 500 g4a.txt | tr '\n' ' ')"
nasiam compare --seeds 1 $TINY --heads "$G4" --out rf > g4b.txt 2>&1; echo "G4 again rc=$? tracebacks=$(tb g4b.txt) :: $(tail -c 500 g4b.txt | tr '\n' ' ')"

echo "== J1: two rows given the same bad --data_root (own_input differs by row label)"
J1="x=default(--dataset=imagefolder --data_root=$PWD/img/pnghuge --batch_size=4 --knn_subset=16 --subset=16),y=paper(--dataset=imagefolder --data_root=$PWD/img/pnghuge --batch_size=4 --knn_subset=16 --subset=16)"
nasiam compare --seeds 1 $TINY --heads "$J1" --out j1 > j1.txt 2>&1; echo "J1 rc=$? tracebacks=$(tb j1.txt) :: $(grep -E 'FAILED|not run|error' j1.txt | cut -c1-200 | tr '\n' ' ')"

echo "== J2: a plain default row whose run folder's .lock is a FIFO, a paper row beside it (G4's neighbour: the run folder, not the options)"
mkdir -p j2/runs/default-s0 && mkfifo j2/runs/default-s0/.lock
nasiam compare --seeds 1 $TINY --heads default,paper --out j2 > j2.txt 2>&1; echo "J2 rc=$? tracebacks=$(tb j2.txt) runs: $(ls j2/runs | tr '\n' ' ') :: $(head -c 600 j2.txt | tr '\n' ' ')"
echo "== J3: as J2 with a user's notes.txt in runs/default-s0 instead of a FIFO"
mkdir -p j3/runs/default-s0 && echo mine > j3/runs/default-s0/notes.txt
nasiam compare --seeds 1 $TINY --heads default,paper --out j3 > j3.txt 2>&1; echo "J3 rc=$? tracebacks=$(tb j3.txt) runs: $(ls j3/runs | tr '\n' ' ') notes: $(cat j3/runs/default-s0/notes.txt) :: $(head -c 600 j3.txt | tr '\n' ' ')"

echo "== M: main/_deliver: help, version, usage with stdout closed, full, a closed pipe"
for a in "--help" "--version" "" "compare --help"; do
  $PY -m nasiam $a >&- 2> m.err; echo "M closed [$a] rc=$? tb=$(tb m.err) :: $(head -c 200 m.err | tr '\n' ' ')"
  $PY -m nasiam $a > /dev/full 2> m.err; echo "M full [$a] rc=$? tb=$(tb m.err) :: $(head -c 200 m.err | tr '\n' ' ')"
  $PY -m nasiam $a 2> m.err | head -c 0; echo "M pipe-closed [$a] rc=${PIPESTATUS[0]} tb=$(tb m.err) :: $(head -c 200 m.err | tr '\n' ' ')"
  $PY -m nasiam $a 2> m.err | true; echo "M pipe-closed-early [$a] rc=${PIPESTATUS[0]} tb=$(tb m.err) :: $(head -c 200 m.err | tr '\n' ' ')"
  $PY -m nasiam $a 2>&- > /dev/full; echo "M full+stderr-closed [$a] rc=$?"
done
