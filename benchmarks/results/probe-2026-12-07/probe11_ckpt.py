# ruff: noqa: E702  (probe scripts: a few edits of one file on a line)
"""Probe 11 (h41): `load_checkpoint`'s new CRC check (`_record_failing_its_checksum`) on zip
archives garbled in their headers, central directory and data.pkl, and on zips with extra records.
Library calls only; each probe prints the exception type that left load_checkpoint (a
CheckpointError is the promise; anything else reaches `nasiam`'s top level as a traceback).
usage: python probe11_ckpt.py TMPDIR"""
import bz2
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
save_checkpoint(good, {"model": {"w": torch.randn(64, 64), "b": torch.randn(64)}}, {"command": "search"})
G = open(good, "rb").read()


def probe(pid, data, expect="CheckpointError"):
    p = os.path.join(T, pid.split()[0] + ".ckpt")
    open(p, "wb").write(data)
    t = time.time()
    try:
        load_checkpoint(p)
        got, msg = "loaded", ""
    except CheckpointError as e:
        got, msg = "CheckpointError", str(e)
    except Exception as e:   # noqa: BLE001
        got, msg = type(e).__name__, str(e)
    verdict = "ok" if got == expect or (expect == "any-refusal" and got == "CheckpointError") else "CHECK"
    print(f"{pid}: {got} ({time.time() - t:.2f}s) [{verdict}] :: {' '.join(msg.split())[:220]}", flush=True)
    return got


zf = zipfile.ZipFile(good)
infos = zf.infolist()
eocd = G.rfind(b"PK\x05\x06")
cd_off = struct.unpack("<I", G[eocd + 16:eocd + 20])[0]
print("records:", [(i.filename, i.header_offset, i.compress_type, i.flag_bits, hex(i.CRC)) for i in infos])
probe("Z0 baseline", G, "loaded")

# Z1: the encrypted bit (flag bit 0) set in one record's central-directory entry
def cd_entries(b):
    out, o = [], cd_off
    while b[o:o + 4] == b"PK\x01\x02":
        n, m, k = struct.unpack("<HHH", b[o + 28:o + 34])
        out.append(o)
        o += 46 + n + m + k
    return out


cds = cd_entries(G)
b = bytearray(G); b[cds[0] + 8] |= 1
probe("Z1 encrypted bit set in the first central-directory entry", bytes(b))
b = bytearray(G); b[cds[-1] + 8] |= 1
probe("Z1b encrypted bit set in the last central-directory entry", bytes(b))
# Z2: the UTF-8 flag (bit 11) set and a filename byte made 0xff
b = bytearray(G); b[cds[0] + 9] |= 0x08; b[cds[0] + 46] = 0xFF
probe("Z2 UTF-8 flag + invalid byte in a central-directory name", bytes(b))
# Z3: an unknown compression method (99, AES) in a central-directory entry
b = bytearray(G); b[cds[0] + 10:cds[0] + 12] = struct.pack("<H", 99)
probe("Z3 compression method 99 in a central-directory entry", bytes(b))
b = bytearray(G); b[cds[0] + 10:cds[0] + 12] = struct.pack("<H", 14)   # LZMA: zipfile reads it
probe("Z3b compression method 14 (lzma) on stored bytes", bytes(b))
# Z4: a record's central-directory CRC zeroed (a zeroed sector) and its data garbled
data_rec = max(infos, key=lambda i: i.file_size)
b = bytearray(G)
idx = [i.filename for i in infos].index(data_rec.filename)
b[cds[idx] + 16:cds[idx] + 20] = b"\0\0\0\0"
start = data_rec.header_offset + 30 + len(data_rec.filename.encode()) + struct.unpack("<H", G[data_rec.header_offset + 28:data_rec.header_offset + 30])[0]
b[start + 100:start + 164] = bytes(x ^ 0xFF for x in b[start + 100:start + 164])
probe(f"Z4 the CRC of {data_rec.filename} zeroed in the central directory, its data garbled", bytes(b), "any-refusal")
# Z5: every single byte of the central directory and EOCD set to 0xFF / 0x00 in turn
kinds = {}
for off in range(cd_off, len(G)):
    for v in (0x00, 0xFF, 0x80):
        b = bytearray(G); b[off] = v
        if bytes(b) == G:
            continue
        p = os.path.join(T, "fuzz.ckpt")
        open(p, "wb").write(b)
        try:
            load_checkpoint(p); got = "loaded"
        except CheckpointError:
            got = "CheckpointError"
        except Exception as e:   # noqa: BLE001
            got = type(e).__name__ + ": " + str(e)[:80]
        kinds.setdefault(got, []).append((off - cd_off, v))
for k, v in kinds.items():
    print(f"Z5 central directory byte fuzz: {len(v)} x {k} e.g. {v[:4]}")
# Z6: every byte of each local header (first 30 + name) set to 0xFF in turn
kinds = {}
for i in infos:
    for off in range(i.header_offset, i.header_offset + 30 + len(i.filename)):
        b = bytearray(G); b[off] ^= 0xFF
        p = os.path.join(T, "fuzz.ckpt")
        open(p, "wb").write(b)
        try:
            load_checkpoint(p); got = "loaded"
        except CheckpointError:
            got = "CheckpointError"
        except Exception as e:   # noqa: BLE001
            got = type(e).__name__ + ": " + str(e)[:80]
        kinds.setdefault(got, []).append((i.filename, off - i.header_offset))
for k, v in kinds.items():
    print(f"Z6 local header byte fuzz: {len(v)} x {k} e.g. {v[:3]}")
# Z7: data.pkl garbled (one byte flipped)
pk = [i for i in infos if i.filename.endswith("data.pkl")][0]
s = pk.header_offset + 30 + len(pk.filename) + struct.unpack("<H", G[pk.header_offset + 28:pk.header_offset + 30])[0]
b = bytearray(G); b[s + 5] ^= 0x01
probe("Z7 data.pkl one byte flipped", bytes(b))
# Z8: extra records appended by zipfile (a stored note; a deflated 1 GiB of zeros; a bzip2 one)
import shutil  # noqa: E402

for pid, method, size in (("Z8a an extra stored record", zipfile.ZIP_STORED, 10),
                          ("Z8b an extra deflated record of 256 MiB of zeros", zipfile.ZIP_DEFLATED, 256 << 20),
                          ("Z8c an extra bzip2 record of 256 MiB of zeros", zipfile.ZIP_BZIP2, 256 << 20)):
    p = os.path.join(T, "x.ckpt"); shutil.copy(good, p)
    with zipfile.ZipFile(p, "a") as z:
        with z.open(zipfile.ZipInfo("archive/extra.bin"), "w", force_zip64=True) if method == zipfile.ZIP_STORED else z.open(
                (lambda zi: (setattr(zi, "compress_type", method), zi)[1])(zipfile.ZipInfo("archive/extra.bin")), "w", force_zip64=True) as w:
            chunk = b"\0" * (1 << 20)
            left = size
            while left > 0:
                w.write(chunk[:left]); left -= len(chunk)
    data = open(p, "rb").read()
    print(f"   ({pid}: file {len(data)} bytes)")
    probe(pid, data, "any-refusal")
# Z9: a duplicate record name (the same name twice, the second garbled)
p = os.path.join(T, "d.ckpt"); shutil.copy(good, p)
import warnings  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    with zipfile.ZipFile(p, "a") as z:
        z.writestr(pk.filename, zf.read(pk.filename)[:-3] + b"XX.")
probe("Z9 data.pkl twice (the second different)", open(p, "rb").read(), "any-refusal")
print("bz2 ratio check:", len(bz2.compress(b"\0" * (64 << 20))), "bytes for 64 MiB")
