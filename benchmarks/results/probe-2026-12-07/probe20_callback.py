# ruff: noqa: E401, E402, E701, E702, E731, E741, F401, F841, I001  (a probe script: compact on purpose)
"""probe 20: the Lightning callback's export_dir check (_checked_export_dir with slots, 59381df): a second fit's
export into its own earlier export, a project folder, links. In process (run from the probe folder)."""
import os, shutil, tempfile
from pathlib import Path
from nasiam.integrations.lightning import _checked_export_dir
from nasiam.rundir import load_heads, write_searched_heads
from nasiam.space import Genotype  # noqa: F401
import json
W = Path(tempfile.mkdtemp(dir=".", prefix="cb."))
heads = load_heads(Path("runs/s0"))
genos = {s: h.genotype for s, h in heads.items()}
def t(label, f):
    try: print(label, "->", f())
    except BaseException as e: print(label, "->", type(e).__name__, str(e)[:240])
d = W / "export"
t("K1 first fit: new export_dir", lambda: (write_searched_heads(_checked_export_dir(d, heads), "lightning", genos, heads), sorted(os.listdir(d)))[1])
t("K2 second fit: same export_dir", lambda: (write_searched_heads(_checked_export_dir(d, heads), "lightning", genos, heads), sorted(os.listdir(d)))[1])
p = W / "proj"; p.mkdir(); shutil.copy("runs/s0/config.yaml", p / "config.yaml")
t("K3 export_dir = proj/nas with a copied run config.yaml in proj (not a run for the output check)", lambda: str(_checked_export_dir(p / "nas", heads)))
t("K4 export_dir = proj itself", lambda: str(_checked_export_dir(p, heads)))
q = W / "linked"; (q / "heads").mkdir(parents=True); os.symlink(os.path.abspath("runs/s0/heads/projector"), q / "heads" / "projector")
t("K5 export_dir whose heads/projector links to a run's slot (refused)", lambda: str(_checked_export_dir(q, heads)))
r = W / "lc"; r.mkdir(); (r / "config.yaml").write_text("trainer:\n  max_epochs: 3\nmodel:\n  lr: 0.1\n")
t("K6 export_dir beside a LightningCLI config.yaml", lambda: str(_checked_export_dir(r, heads)))
