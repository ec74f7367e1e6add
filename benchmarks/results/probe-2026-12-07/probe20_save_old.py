# ruff: noqa: E401, E402, E701, E702, E731, E741, F401, F841, I001  (a probe script: compact on purpose)
import nasiam, shutil, tempfile, os
from pathlib import Path
from nasiam.head import NASHead
print("code at", nasiam.__file__)
head = NASHead.from_pretrained("runs/s0/heads/projector")
W = Path(tempfile.mkdtemp(dir=".", prefix="saveold."))
p = W / "proj1"; p.mkdir(); shutil.copy("runs/s0/config.yaml", p / "config.yaml")
for name, target in [("S1a proj/", p), ("S1b proj/heads/mine", p / "heads/mine"), ("S1d proj/models/mine", p / "models/mine"), ("S7a runs/s0/heads/projector", Path("runs/s0/heads/projector"))]:
    try: head.save_pretrained(target); print(name, "saved")
    except Exception as e: print(name, type(e).__name__, str(e)[:160])
t = W / "training"; (t / "checkpoints").mkdir(parents=True)
shutil.copy("runs/s0/config.yaml", W / "cfg_store.yaml"); os.symlink(os.path.abspath(W / "cfg_store.yaml"), t / "config.yaml")
u = W / "bigcfg"; (u / "checkpoints").mkdir(parents=True)
(u / "config.yaml").write_text(Path("runs/s0/config.yaml").read_text() + "# " + "x" * (1 << 20) + "\n")
for name, target in [("S8 linked config, genotype beside", t), ("S9b >1MiB config, genotype beside", u)]:
    try: head.save_pretrained(target); print(name, "saved")
    except Exception as e: print(name, type(e).__name__, str(e)[:160])
