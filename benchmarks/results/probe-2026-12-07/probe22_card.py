"""Probe 22 (#33): the export card's dataset from export.json (S3's fix): old exports, odd values."""
import json
import os
import shutil
import sys
from pathlib import Path

from nasiam.rundir import run_card

src = Path(sys.argv[1])
base = json.loads((src / "export.json").read_text())
cases = {"as written": base, "no dataset key (old export)": {k: v for k, v in base.items() if k != "dataset"},
         "no dataset, run relative": {**{k: v for k, v in base.items() if k != "dataset"}, "run": os.path.relpath(base["run"])},
         "dataset null": {**base, "dataset": None}, "dataset 123": {**base, "dataset": 123},
         "dataset with newline": {**base, "dataset": "cifar10\n- evil"}, "dataset ''": {**base, "dataset": ""},
         "dataset other than run's": {**base, "dataset": "cifar100"}}
for label, record in cases.items():
    d = Path(f"card_{len(label)}_{abs(hash(label)) % 1000}")
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(src, d)
    (d / "export.json").write_text(json.dumps(record))
    try:
        card = run_card(d)
        print(f"[{label}] card={ {k: v for k, v in card.items() if k != 'metrics'} }")
    except Exception as e:
        print(f"[{label}] {type(e).__name__}: {e}"[:400])
