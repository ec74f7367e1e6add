# ruff: noqa: E702  (probe scripts: a few edits of one file on a line)
"""Probe 12 (h43): `load_checkpoint`'s `_damaged_record` (3d7221b) on the eleventh's H1/H5 files and
on new zips: central-directory entries that all point at one stored record (read again for each
entry), a last.ckpt that is a link to a device, a local header whose name differs from the
directory's. Library calls only; each probe prints what left load_checkpoint and its time.
usage: python probe12_ckpt.py TMPDIR"""
import os
import struct
import sys
import time
import zipfile

import torch

from nasiam.errors import CheckpointError
from nasiam.runner.checkpoint import load_checkpoint, save_checkpoint

T = os.path.join(sys.argv[1], "ckpt")
os.makedirs(T, exist_ok=True)
good = os.path.join(T, "good.ckpt")
torch.manual_seed(0)
# one 16 MiB stored record (a weight), as a real checkpoint's backbone tensors are
save_checkpoint(good, {"model": {"w": torch.randn(2048, 2048), "b": torch.randn(64)}}, {"command": "search"})
G = open(good, "rb").read()


def probe(pid, data, expect="CheckpointError", path=None):
    p = path or os.path.join(T, pid.split()[0] + ".ckpt")
    if data is not None:
        open(p, "wb").write(data)
    t = time.time()
    try:
        load_checkpoint(p)
        got, msg = "loaded", ""
    except CheckpointError as e:
        got, msg = "CheckpointError", str(e)
    except Exception as e:   # noqa: BLE001
        got, msg = type(e).__name__, str(e)
    verdict = "ok" if got == expect else "CHECK"
    print(f"{pid}: {got} ({time.time() - t:.2f}s) [{verdict}] :: {' '.join(msg.split())[:260]}", flush=True)
    return time.time() - t


eocd = G.rfind(b"PK\x05\x06")
cd_size, cd_off = struct.unpack("<II", G[eocd + 12:eocd + 20])


def cd_entries(b):
    out, o = [], cd_off
    while b[o:o + 4] == b"PK\x01\x02":
        n, m, k = struct.unpack("<HHH", b[o + 28:o + 34])
        out.append((o, 46 + n + m + k))
        o += 46 + n + m + k
    return out


entries = cd_entries(G)
infos = zipfile.ZipFile(good).infolist()
print("records:", [(i.filename, i.file_size) for i in infos], "file", len(G), "bytes")
probe("Y0 baseline", G, "loaded")

# Y1-Y3: the eleventh's H1 (encrypted bit, method 99, a name byte 0xFF) and H5 (a bzip2 extra record), re-run
c = entries[0][0]
b = bytearray(G); b[c + 8] |= 1; probe("Y1 H1 encrypted bit in the first entry", bytes(b))
b = bytearray(G); b[c + 10] = 99; probe("Y2 H1 compression method 99", bytes(b))
b = bytearray(G); b[c + 46] = 0xFF; probe("Y3 H1 a name byte 0xFF", bytes(b))
h5 = os.path.join(T, "Y4.ckpt"); open(h5, "wb").write(G)
with zipfile.ZipFile(h5, "a") as z:
    info = zipfile.ZipInfo("archive/extra.bin"); info.compress_type = zipfile.ZIP_BZIP2
    with z.open(info, "w", force_zip64=True) as w:
        for _ in range(64):
            w.write(bytes(1 << 20))
probe("Y4 H5 a bzip2 extra record (64 MiB of zeros)", None, path=h5)

# Y5: N copies of the biggest record's central-directory entry (same name, same local header):
# each is a valid stored record with a valid CRC, read whole by the check, ignored by torch.load
big = max(range(len(infos)), key=lambda i: infos[i].file_size)
o, n = entries[big]
entry = G[o:o + n]
print(f"biggest record {infos[big].filename!r}: {infos[big].file_size} bytes; its entry {n} bytes")
for copies in (1, 16, 64):
    extra = entry * copies
    cd = G[cd_off:cd_off + cd_size] + extra
    count = len(entries) + copies
    end = bytearray(G[eocd:eocd + 22])
    struct.pack_into("<HHII", end, 8, count, count, len(cd), cd_off)
    data = G[:cd_off] + cd + bytes(end)
    took = probe(f"Y5.{copies} {copies} more entries naming the {infos[big].file_size >> 20} MiB record "
                 f"(+{len(extra)} bytes)", data, "CheckpointError")
    print(f"   per added entry: {took / max(copies, 1):.3f}s; 65,535 entries (+{n * 65535 >> 20} MiB) would take "
          f"about {took / max(copies, 1) * 65535 / 3600:.1f} h", flush=True)

# Y6: the local header's name changed (the directory's left): zipfile refuses ("differ")
b = bytearray(G); lo = infos[0].header_offset; b[lo + 30] ^= 0x20
probe("Y6 local header name differs from the directory's", bytes(b))
# Y7: a zip that holds no records at all
probe("Y7 an empty zip archive", b"PK\x05\x06" + bytes(18))
# Y8: last.ckpt a link to /dev/zero, and to /dev/stdin
for pid, target in (("Y8 a link to /dev/zero", "/dev/zero"), ("Y9 a link to /proc/self/fd/0", "/proc/self/fd/0")):
    p = os.path.join(T, pid.split()[0] + ".ckpt")
    if os.path.lexists(p):
        os.unlink(p)
    os.symlink(target, p)
    probe(pid, None, path=p)
