#!/bin/bash
# Probe 12 (h43), part 1: image folders the tenth did not reach, a checkpoint whose directory
# names one record many times, export folders with links, config.yaml's temporary.
# usage: bash probe12_cli.sh TMPDIR [SECTION...]  (TMPDIR holds nasiam/ and runs/s0, a finished tiny search;
# sections: img ckpt export leftovers, all by default). A command still running at its TO (seconds)
# is stopped by timeout (rc 124): for EX-/LO- probes that means it was accepted and training.
T=$1; shift; S=" ${*:-img ckpt export leftovers} "; on() { [[ "$S" == *" $1 "* ]]; }
. "$(dirname "$0")/probe12_lib.sh"
cd $T/c
if on img; then
echo "== image folders (probe10_images.py), pretrain with the default head"
for k in badutf8cls nlcls dirpng lowlink onecls; do
  $PY $HERE/probe10_images.py $T/c/img/$k $k >/dev/null 2>&1
  p IM-$k nasiam pretrain $IMG --data_root $T/c/img/$k --out_dir $T/c/im --run_name $k
done
ls -b $T/c/im 2>/dev/null | head
fi

if on ckpt; then
echo "== a last.ckpt whose central directory names its biggest record 1,024 more times"
cp -r $T/runs/s0 $T/c/dup
$PY - $T/c/dup/checkpoints/last.ckpt <<'PY'
import struct, sys, zipfile
p = sys.argv[1]; G = open(p, "rb").read()
e = G.rfind(b"PK\x05\x06"); n, size, off = struct.unpack("<HII", G[e + 10:e + 20])
infos = zipfile.ZipFile(p).infolist(); o = off; ents = []
while G[o:o + 4] == b"PK\x01\x02":
    a, b2, c = struct.unpack("<HHH", G[o + 28:o + 34]); ents.append(G[o:o + 46 + a + b2 + c]); o += 46 + a + b2 + c
i = max(range(len(infos)), key=lambda k: infos[k].file_size)
extra = ents[i] * 1024
end = bytearray(G[e:e + 22]); struct.pack_into("<HHII", end, 8, n + 1024, n + 1024, size + len(extra), off)
open(p, "wb").write(G[:off] + G[off:off + size] + extra + bytes(end))
print("record", infos[i].filename, infos[i].file_size, "bytes; +", len(extra), "bytes")
PY
p CK-dup-export nasiam export $T/c/dup --out $T/c/dupx
TO=240 p CK-dup-resume nasiam search $TINY --warmup_epochs 0 --resume $T/c/dup
fi

if on export; then
echo "== export folders with links, then pretrain --init"
nasiam export $T/runs/s0 --out $T/c/x0 >/dev/null 2>&1
f=$(cd $T/c/x0 && find heads -type f | head -1); echo "file: $f"
cp -r $T/c/x0 $T/c/xl1; mkdir -p $T/c/elsewhere; mv $T/c/xl1/$f $T/c/elsewhere/w; ln -s $T/c/elsewhere/w $T/c/xl1/$f
TO=90 p EX-link-out nasiam pretrain $TINY --init $T/c/xl1 --out_dir $T/c/ix --run_name l1
cp -r $T/c/x0 $T/c/xl2; ln -s . $T/c/xl2/heads/loop
TO=90 p EX-loop nasiam pretrain $TINY --init $T/c/xl2 --out_dir $T/c/ix --run_name l2
cp -r $T/c/x0 $T/c/xl3; truncate -s 20G $T/c/sparse; rm $T/c/xl3/$f; ln -s $T/c/sparse $T/c/xl3/$f
TO=240 p EX-sparse20G nasiam pretrain $TINY --init $T/c/xl3 --out_dir $T/c/ix --run_name l3
rm -f $T/c/sparse
fi

if on leftovers; then
echo "== config.yaml's temporary beside a killed run's lock"
mk() { mkdir -p $T/c/lo/$1; printf '%s' "$2" > $T/c/lo/$1/.config.yaml.0123abcd.nasiam.tmp
  echo "{\"pid\": 999999, \"host\": \"$(hostname)\", \"since\": \"2026-12-07T09:00:00\", \"command\": \"search\"}" > $T/c/lo/$1/.lock; }
mk notes $'# my notes on this run: keep\nepochs: 1\nseed: 0\n'
TO=60 p LO-options-notes nasiam search $TINY --warmup_epochs 0 --out_dir $T/c/lo --run_name notes
ls -A $T/c/lo/notes | tr '\n' ' '; echo
mk hard ''; rm $T/c/lo/hard/.config.yaml.0123abcd.nasiam.tmp; echo "user data" > $T/c/mine.txt
ln $T/c/mine.txt $T/c/lo/hard/.config.yaml.0123abcd.nasiam.tmp
TO=60 p LO-hardlink nasiam search $TINY --warmup_epochs 0 --out_dir $T/c/lo --run_name hard
ls -A $T/c/lo/hard | tr '\n' ' '; echo; cat $T/c/mine.txt
fi
