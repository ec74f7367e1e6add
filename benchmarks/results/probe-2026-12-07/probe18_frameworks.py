"""probe 18 (h57): M5's framework check (`_check_searched_for`) on recorded names, in process; and by
command: a head file (genotype.json) recording framework `moco` given to `pretrain --framework moco
--head`. Usage: probe18_frameworks.py PROBE_DIR (needs w/e0 of probe18_base.sh)."""
import json
import os
import subprocess
import sys
from pathlib import Path

from nasiam.config import PretrainConfig
from nasiam.runner.pretrain import _check_searched_for

for fw, rec in (("moco", {"moco"}), ("mocov2", {"moco"}), ("moco", {"mocov2"}), ("simsiam", {"litsimsiam"}),
                ("simsiam", {None, "simsiam"})):
    cfg = PretrainConfig(framework=fw, head="h/genotype.json", init="x")
    try:
        _check_searched_for(cfg, "head", rec)
        print(f"--framework {fw}, recorded {sorted(map(str, rec))}: accepted")
    except Exception as e:  # noqa: BLE001
        print(f"--framework {fw}, recorded {sorted(map(str, rec))}: REFUSED {e}")

P = Path(sys.argv[1]) / "w"
g = json.loads((P / "e0" / "genotype.json").read_text())
for slot in g.get("heads", g):
    if isinstance(g.get("heads", g)[slot], dict) and "meta" in g.get("heads", g)[slot]:
        g.get("heads", g)[slot]["meta"]["framework"] = "moco"
if "framework" in g:   # the file's own record (read_head_file reads it)
    g["framework"] = "moco"
if "meta" in g:
    g["meta"]["framework"] = "moco"
(P / "moco_head.json").write_text(json.dumps(g, indent=1))
TINY = "--dataset synthetic --image_size 16 --batch_size 16 --epochs 1 --subset 64 --knn_subset 64 --num_workers 0"
for fw in ("moco", "mocov2"):
    r = subprocess.run([sys.executable, "-m", "nasiam", "pretrain", *TINY.split(), "--framework", fw, "--head",
                        "moco_head.json", "--out_dir", "runs", "--run_name", f"h_{fw}"], cwd=P, capture_output=True,
                       text=True, env=os.environ, timeout=300)
    print(f"command --framework {fw} --head moco_head.json: rc={r.returncode}; {(r.stderr.strip().splitlines() or [''])[-1][:300]}")
