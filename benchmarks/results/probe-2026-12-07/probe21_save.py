# ruff: noqa
"""Probe 21 (#33): save_pretrained against run folders after 9ef757e/aa95306 (run traces beside config.yaml).
usage: python probe21_save.py RUN (a finished tiny run with heads/projector) WORKDIR"""
import os, shutil, sys
from pathlib import Path
from nasiam import NASHead
from nasiam._folders import nasiam_folder

run, work = Path(sys.argv[1]), Path(sys.argv[2])
head = NASHead.from_pretrained(run / "heads" / "projector")
def case(label, prepare, target):
    base = work / label
    if base.exists(): shutil.rmtree(base)
    base.mkdir(parents=True)
    prepare(base)
    before = sorted(str(p.relative_to(base)) for p in base.rglob("*"))
    try:
        head.save_pretrained(base / target)
        verdict = "SAVED"
    except Exception as e:
        verdict = f"REFUSED {type(e).__name__}: {str(e)[:220]}"
    after = sorted(str(p.relative_to(base)) for p in base.rglob("*"))
    print(f"{label}: save_pretrained({target}) -> {verdict}; nasiam_folder(base)={nasiam_folder(base)}; new files {len(after) - len(before)}")
cp = lambda b: shutil.copy(run / "config.yaml", b / "config.yaml")
case("A1 copied config + own checkpoints/ (Lightning project)", lambda b: (cp(b), (b / "checkpoints").mkdir(), (b / "checkpoints" / "epoch=3.ckpt").write_bytes(b"x")), "heads/mine")
case("A2 copied config + a .lock file of another tool", lambda b: (cp(b), (b / ".lock").write_text("")), "heads/mine")
case("A3 copied config + summary.json of another tool (not JSON)", lambda b: (cp(b), (b / "summary.json").write_text("a: 1")), "heads/mine")
case("A4 copied config + summary.json a JSON list", lambda b: (cp(b), (b / "summary.json").write_text("[1]")), "heads/mine")
case("A5 copied config + checkpoints a dangling link", lambda b: (cp(b), os.symlink("/nonexistent", b / "checkpoints")), "heads/mine")
case("A6 run starting: config.yaml + .lock only", lambda b: (cp(b), (b / ".lock").write_text("123")), "heads/projector")
case("A7 run crashed before its first checkpoint, lock gone: config.yaml only", lambda b: cp(b), "heads/projector")
case("A7b same, save into the run folder itself", lambda b: cp(b), ".")
case("A8 run with heads/ and summary.json but config.yaml removed", lambda b: (shutil.copytree(run / "heads", b / "heads"), shutil.copy(run / "summary.json", b)), "heads/projector")
case("A9 finished run copy, target heads/projector", lambda b: shutil.copytree(run, b, dirs_exist_ok=True), "heads/projector")
case("A10 finished run, target logs/heads/x", lambda b: shutil.copytree(run, b, dirs_exist_ok=True), "logs/heads/x")
case("A11 finished run, target eval/mine", lambda b: shutil.copytree(run, b, dirs_exist_ok=True), "eval/mine")
case("A12 finished run, config.yaml a FIFO beside checkpoints/", lambda b: ((b / "checkpoints").mkdir(), os.mkfifo(b / "config.yaml")), "heads/projector")
case("A13 run with config.yaml a folder + checkpoints", lambda b: ((b / "checkpoints").mkdir(), (b / "config.yaml").mkdir()), "heads/projector")
case("A14 checkpoints/ + config.yaml a hard link of a run's", lambda b: ((b / "checkpoints").mkdir(), os.link(run / "config.yaml", b / "config.yaml")), "heads/projector")
case("A15 HEADS (upper case) of a run", lambda b: shutil.copytree(run, b, dirs_exist_ok=True), "HEADS/projector")
