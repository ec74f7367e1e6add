"""probe 17 (h56): NASHead.save_pretrained after f7772de (run_record_in: realpath, a project's
config.yaml kept, checkpoints/ or genotype.json mark a run). Usage: probe17_save.py PROBE_DIR
(needs runs/s0 of probe17_base.sh; works in PROBE_DIR/sv, copies of s0's records only)."""
import hashlib
import os
import shutil
import sys
from pathlib import Path

from nasiam.head import NASHead

P = Path(sys.argv[1])
W = P / "sv"
shutil.rmtree(W, ignore_errors=True)
W.mkdir()
os.chdir(W)
S0 = P / "w" / "runs" / "s0"
run = W / "run"
shutil.copytree(S0, run, ignore=shutil.ignore_patterns("checkpoints"))
(run / "checkpoints").mkdir()
head = NASHead.from_pretrained(S0 / "heads" / "projector")


def digest(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()[:8]
            for p in sorted(folder.rglob("*")) if p.is_file()}


before = digest(run)


def case(cid, what, target, expect):
    try:
        head.save_pretrained(target)
        got = "written"
    except ValueError as e:
        got = f"refused: {str(e)[:160]}"
    flag = "" if got.split(":")[0] == expect else "  **UNEXPECTED**"
    print(f"{cid}: {what} [{target}]: {got}{flag}")


def proj(name, *files, dirs=()):
    d = W / name
    d.mkdir(parents=True)
    for f in files:
        (d / f).write_text("x: 1\n")
    for sub in dirs:
        (d / sub).mkdir()
    return d


case("SV1", "a run's heads/", run / "heads", "refused")
os.chdir(run)
case("SV2", "a run's heads/, relative from inside the run", "heads", "refused")
case("SV3", "'./heads/../heads'", "./heads/../heads", "refused")
os.chdir(W)
os.symlink(run / "heads", W / "mylink")
case("SV4", "a link (named otherwise) to a run's heads/", "mylink", "refused")
case("SV5", "heads/ inside a run's heads/", run / "heads" / "heads", "refused")
case("SV6", "a run's heads/projector (a slot's own folder: replaces the run's head)", run / "heads" / "projector", "refused")
print("   run's files changed:", sorted(k for k, v in digest(run).items() if before.get(k) != v))
p1 = proj("p1", "config.yaml")
case("SV7", "project with config.yaml alone: project/heads", p1 / "heads", "written")
p2 = proj("p2", "config.yaml", dirs=("checkpoints",))
case("SV8", "project with config.yaml + checkpoints/ (LightningCLI log dir, any DL project): heads", p2 / "heads", "written")
p3 = proj("p3", "config.yaml", "hparams.yaml", dirs=("checkpoints",))
case("SV9", "lightning_logs/version_0 written by LightningCLI (config.yaml, hparams.yaml, checkpoints/): heads",
     p3 / "heads", "written")
p4 = proj("p4", "config.yaml", "genotype.json")
case("SV10", "project with config.yaml + a genotype.json it saved: heads", p4 / "heads", "written")
p5 = proj("p5", "summary.json")
case("SV11", "a project with its own summary.json (any tool's): heads", p5 / "heads", "written")
p6 = proj("p6")
case("SV12", "empty project: heads", p6 / "heads", "written")
case("SV13", "project heads/ saved twice (the second over the first)", p6 / "heads", "written")
os.symlink(p1 / "heads", W / "heads")
case("SV14", "a link named heads to p1/heads (a project)", W / "heads", "written")
