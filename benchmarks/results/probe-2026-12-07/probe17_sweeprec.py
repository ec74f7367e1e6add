"""probe 17 (h56): the sweep record (M1/M7/M8/M9 fixes), in process. A study recorded by the code
before 951b1b6 (run as `probe17_sweeprec.py old` under PYTHONPATH=old copy: prints its records as
JSON) continued by today's (`probe17_sweeprec.py new RECORDS.json`) under the same command line.
Also: today's own records, continued under the same or alias spellings; damaged attrs."""
import dataclasses
import json
import shlex
import sys
import tempfile
from pathlib import Path

import optuna

from nasiam.cli import build_parser
from nasiam.config import ConfigError, SearchConfig
from nasiam.runner import sweep as S

optuna.logging.set_verbosity(optuna.logging.WARNING)
D = Path(tempfile.mkdtemp())
B = "--dataset synthetic --image_size 16 --batch_size 16 --subset 64 --knn_subset 64 --warmup_epochs 0"
SW = {"method": "random", "metric": {"name": "knn_top1", "goal": "maximize"},
      "parameters": {"arch_lr": {"distribution": "log_uniform_values", "min": 0.01, "max": 0.1}}}
HB = {"type": "hyperband", "min_iter": 1, "eta": 3}
CMDS = {
    "NW0": B + " --num_workers 0",
    "NW4": B + " --num_workers 4",
    "NWdef": B,
    "MOCO": B + " --framework moco",
    "MOCOV2": B + " --framework mocov2",
    "CUDA": B + " --accelerator cuda",
    "BF16": B + " --precision bf16",
    "HB": B + " --num_workers 0",
}


def overrides(cmd):
    parser = build_parser()
    args, unknown = parser.parse_known_args(["sweep", "--config", "x.yaml", *shlex.split(cmd)])
    assert not unknown, unknown
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(SearchConfig) if hasattr(args, f.name)}


def hb(cid):
    return S._hyperband("x.yaml", HB) if cid == "HB" else None


def record(cid):
    study = optuna.create_study(direction="maximize")
    S._check_same_sweep(study, SW, D, hb(cid), overrides(CMDS[cid]))
    return study.user_attrs[S.SWEEP_ATTRIBUTE]


def cont(cid, pre, cmd, hbk=None):
    study = optuna.create_study(direction="maximize")
    study.set_user_attr(S.SWEEP_ATTRIBUTE, pre)
    try:
        S._check_same_sweep(study, SW, D, hb(hbk), overrides(cmd))
        print(f"{cid}: continue")
    except ConfigError as e:
        print(f"{cid}: REFUSED: {str(e)[:500]}")
    except Exception as e:  # noqa: BLE001
        print(f"{cid}: CRASH {type(e).__name__}: {e}")


if sys.argv[1] == "old":
    print(json.dumps({cid: record(cid) for cid in CMDS}))
else:
    old = json.loads(Path(sys.argv[2]).read_text())
    print("== a study recorded before today, continued under the SAME command line by today's code")
    for cid, cmd in CMDS.items():
        print(f"   old record options: {old[cid].get('options')}")
        cont(f"OLD-{cid}", old[cid], cmd, cid)
    print("== today's records, same/alias spellings")
    new = {cid: record(cid) for cid in CMDS}
    cont("NEW-NW0", new["NW0"], CMDS["NW0"])
    cont("NEW-NWdef-vs-2", new["NWdef"], B + " --num_workers 2")
    cont("NEW-MOCO-vs-v2", new["MOCO"], CMDS["MOCOV2"])
    cont("NEW-CUDA-vs-gpu", new["CUDA"], B + " --accelerator gpu")
    cont("NEW-HB", new["HB"], CMDS["HB"], "HB")
    print("== damaged or foreign records")
    for cid, pre in {"list": [1, 2], "str": "x", "opts-list": {**new["NW0"], "options": [1]},
                     "opts-none": {**new["NW0"], "options": None},
                     "unknown-opt": {**new["NW0"], "options": {**new["NW0"]["options"], "future_opt": 3}},
                     "unknown-opt-default": {**new["NW0"], "options": {**new["NW0"]["options"], "future_opt": None}},
                     "params-str": {**new["NW0"], "parameters": "x"},
                     "et-str": {**new["HB"], "early_terminate": "hyperband"},
                     "metric-list": {**new["NW0"], "metric": [1]},
                     "unhashable-opt": {**new["NW0"], "options": {**new["NW0"]["options"], "lr": [1, 2]}}}.items():
        cont(f"DMG-{cid}", pre, CMDS["HB"] if cid == "et-str" else CMDS["NW0"], "HB" if cid == "et-str" else None)
