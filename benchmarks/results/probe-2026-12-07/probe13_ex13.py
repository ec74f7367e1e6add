# ruff: noqa: E401, E402, E701, E702, E731  (probe scripts: short setups on one line; imports beside the probes that use them)
"""EX13 again, timed: an export record without 'sizes' (as every export before today's I3 fix) and
a 2 GiB sparse file linked in its place: hashed whole before the refusal."""
import json
import os
import sys
import time
from pathlib import Path

from nasiam.rundir import _check_export_files, file_digests

W = Path(sys.argv[1]); d = W / "ex13"; (d / "heads/projector").mkdir(parents=True, exist_ok=True)
(d / "heads/projector/head.safetensors").write_bytes(b"h" * 100); (d / "backbone.safetensors").write_bytes(b"b" * 1000)
(d / "export.json").write_text(json.dumps({"files": file_digests(d)}))
big = W / "big2g.sparse"; f = open(big, "wb"); f.truncate(2 << 30); f.close()
os.remove(d / "backbone.safetensors"); os.symlink(big, d / "backbone.safetensors")
t = time.perf_counter()
try:
    _check_export_files(d, d / "export.json", "--init", "export it again")
except Exception as e:
    print(f"EX13: {type(e).__name__}: {str(e)[:160]!r} after {time.perf_counter() - t:.1f}s for 2 GiB")
finally:
    os.remove(big)
