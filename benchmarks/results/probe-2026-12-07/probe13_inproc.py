# ruff: noqa: E401, E402, E701, E702, E731  (probe scripts: short setups on one line; imports beside the probes that use them)
"""Thirteenth probe of #33 (h46): today's fixes, in one process. Usage: python probe13_inproc.py WORKDIR"""
import glob
import json
import os
import sys
import time
from pathlib import Path

W = Path(sys.argv[1]); W.mkdir(exist_ok=True); os.chdir(W)
REPO = Path("/work/wt-h46")


def probe(pid, fn):
    try:
        out = fn()
        print(f"{pid}: OK {out!r}"[:600])
    except BaseException as e:
        print(f"{pid}: {type(e).__name__}: {str(e)[:500]!r}")


def snapshot(p):
    p = Path(p)
    if not os.path.lexists(p):
        return None
    out = []
    for root, dirs, files in os.walk(p):
        for n in sorted(dirs + files):
            q = os.path.join(root, n); st = os.lstat(q)
            out.append((q, st.st_mode, st.st_size, st.st_mtime_ns))
    return out


# ---- start_refusal: folders a real run accepts

from nasiam.runner.claim import start_refusal

R = W / "runs"; R.mkdir(exist_ok=True)

def mk(name, files=(), dirs=()):
    d = R / name; d.mkdir(exist_ok=True)
    for sub in dirs: (d / sub).mkdir(parents=True, exist_ok=True)
    for f, data in files: (d / f).parent.mkdir(parents=True, exist_ok=True); (d / f).write_bytes(data)
    return d

cfg = b"command: pretrain\nrun_name: %s\n"
owner = json.dumps({"pid": 999999, "host": os.uname().nodename, "since": 1.0, "command": "pretrain"}).encode()
cases = {
    "SR1-absent": R / "absent",
    "SR2-empty": mk("empty"),
    "SR3-resumable": mk("resumable", [("checkpoints/last.ckpt", b"x"), ("config.yaml", cfg % b"resumable"), ("foo.txt", b"user")]),
    "SR4-killed-lock-only": mk("killedlock", [(".lock", owner)]),
    "SR5-killed-empty-lock": mk("emptylock", [(".lock", b"")]),
    "SR6-killed-with-config-tmp": mk("cfgtmp", [(".lock", owner), (".config.yaml.tmp", b"command: pretrain\n")]),
    "SR7-lock-fifo": mk("fifolock"),
    "SR8-lock-symlink": mk("linklock"),
    "SR9-run-dangling-link": R / "dangling",
    "SR10-run-is-fifo": R / "fifo",
    "SR11-run-link-to-dir": R / "linkdir",
    "SR12-run-in-proc": Path("/proc/self/nasiam-run"),
    "SR13-finished-no-last": mk("finished", [("summary.json", b"{}"), ("config.yaml", cfg % b"finished")]),
    "SR14-started-config-only": mk("started", [("config.yaml", cfg % b"started"), ("checkpoints/epoch=0.ckpt.tmp", b"")]),
    "SR15-epoch-ckpts-no-last": mk("epochs", [("config.yaml", cfg % b"epochs"), ("checkpoints/epoch=1.ckpt", b"x")]),
    "SR16-lock-dir": mk("lockdir", dirs=[".lock"]),
    "SR17-path-ctrl": R / "ctl\x1b[2J",
}
os.mkfifo(R / "fifolock" / ".lock")
os.symlink("/nonexistent", R / "linklock" / ".lock")
os.symlink("/nonexistent-target", R / "dangling")
os.mkfifo(R / "fifo")
(W / "realdir").mkdir(exist_ok=True); os.symlink(W / "realdir", R / "linkdir")
mk("ctl\x1b[2J", [(".lock", b"not json at all")])
for pid, p in cases.items():
    before = snapshot(p) if not str(p).startswith("/proc") else None
    t = time.perf_counter()
    probe(pid, lambda p=p: start_refusal(p))
    after = snapshot(p) if not str(p).startswith("/proc") else None
    print(f"   touched={before != after} t={time.perf_counter()-t:.3f}s")

# ---- the lock's own wording for a control-character path (RunDirLock vs start_refusal)
from nasiam.runner.lock import RunDirLock

probe("SR18-lock-acquire-ctrl", lambda: RunDirLock(R / "ctl\x1b[2J").acquire())
os.symlink("/nonexistent", R / "ctl\x1b[2J" / ".lock2")

# ---- compare.json: old files still load
from nasiam.compare import MANIFEST, _read_manifest

for f in sorted(glob.glob(str(REPO / "benchmarks/results/*/compare.json"))):
    m = json.load(open(f))
    out = W / ("cj-" + Path(f).parent.name); out.mkdir(exist_ok=True)
    (out / MANIFEST).write_bytes(Path(f).read_bytes())
    probe(f"CJ-{Path(f).parent.name}", lambda out=out, m=m: sorted(_read_manifest(out, m["common"]).keys()))
# pins in every old file
for f in sorted(glob.glob(str(REPO / "benchmarks/results/*/compare.json"))):
    m = json.load(open(f)); print("  pins", Path(f).parent.name, json.dumps(m.get("pinned_heads"))[:200])
def cj(name, edit):
    src = json.load(open(REPO / "benchmarks/results/budget/compare.json"))
    edit(src); out = W / name; out.mkdir(exist_ok=True); (out / MANIFEST).write_text(json.dumps(src))
    return _read_manifest(out, src["common"]).get("pinned_heads")
probe("CJ-pin-upper-hex", lambda: cj("cjU", lambda m: m.setdefault("pinned_heads", {}).update(m={"path": "h", "sha256": "A" * 64})))
probe("CJ-pin-extra-key", lambda: cj("cjX", lambda m: m.setdefault("pinned_heads", {}).update(m={"path": "h", "sha256": "a" * 64, "size": 3})))
probe("CJ-pin-sha-newline", lambda: cj("cjN", lambda m: m.setdefault("pinned_heads", {}).update(m={"path": "h", "sha256": "a" * 64 + "\n"})))
probe("CJ-pin-empty-path", lambda: cj("cjE", lambda m: m.setdefault("pinned_heads", {}).update(m={"path": "", "sha256": "a" * 64})))
probe("CJ-pin-label-ctrl", lambda: cj("cjC", lambda m: m.setdefault("pinned_heads", {}).update({"m\x1b[2J": 5})))
probe("CJ-pinned-null", lambda: cj("cjZ", lambda m: m.update(pinned_heads=None)))

# ---- labels
from nasiam.compare.specs import parse_heads

for pid, text in [("LB1", "default=paper,directpred"), ("LB2", "paper=default"), ("LB3", "search=lab/x"),
                  ("LB4", "lab/default,paper"), ("LB5", "Default=paper"), ("LB6", "default\n=paper"),
                  ("LB7", "x\n=paper"), ("LB8", "a =paper"), ("LB9", " default"), ("LB10", "lab/x ,paper"),
                  ("LB11", "random=paper"), ("LB12", "lab/random,paper"), ("LB13", "ｄefault=paper"),
                  ("LB14", "default_=paper"), ("LB15", "lab/search"), ("LB16", "DEFAULT=paper")]:
    probe(pid, lambda t=text: [(s.label, getattr(s, "kind", None), str(getattr(s, "path", ""))) for s in parse_heads(t)])
