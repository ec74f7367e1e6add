"""probe 18 (h57): a study recorded by the code between 951b1b6 and 97eb452 (--num_workers recorded,
no "version"), continued by today's: under the same and under other --num_workers / --framework.
Usage: probe18_sweepwin.py RECORDS.json (probe17_sweeprec.py old, run on 97eb452^)."""
import json
import sys
from pathlib import Path

import optuna

sys.argv, records = ["probe17_sweeprec.py", "none"], Path(sys.argv[1])
src = (Path(__file__).parent / "probe17_sweeprec.py").read_text().split('if sys.argv[1] == "old":')[0]
helpers: dict = {}
exec(compile(src, "probe17_sweeprec.py", "exec"), helpers)   # probe 17's own file: its SW, B, CMDS, cont ...
cont, CMDS, B, S, SW, D, overrides = (helpers[k] for k in ("cont", "CMDS", "B", "S", "SW", "D", "overrides"))
old = json.loads(records.read_text())
print("window record NW0 options:", old["NW0"].get("options"), "version:", old["NW0"].get("version"))
cont("WIN-NW0-same", old["NW0"], CMDS["NW0"])
cont("WIN-NW0-then-4 (mixing workers: M7 refused it)", old["NW0"], CMDS["NW4"])
cont("WIN-NWdef-then-0", old["NWdef"], CMDS["NW0"])
cont("WIN-MOCO-same", old["MOCO"], CMDS["MOCO"])
cont("WIN-MOCO-vs-v2", old["MOCO"], CMDS["MOCOV2"])
cont("WIN-BF16-then-32", old["BF16"], B + " --precision 32")
study = optuna.create_study(direction="maximize")
study.set_user_attr(S.SWEEP_ATTRIBUTE, old["NW0"])
S._check_same_sweep(study, SW, D, None, overrides(CMDS["NW4"]))
rec = study.user_attrs[S.SWEEP_ATTRIBUTE]
print("after WIN-NW0-then-4 the record says num_workers", rec["options"].get("num_workers"), "version", rec.get("version"))
cont("WIN-NW0-then-4-then-0 (back to the workers trial 0 ran with)", rec, CMDS["NW0"])
