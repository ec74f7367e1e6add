# ruff: noqa: E401, E402, E701, E702, E731, E741, F401, F841, I001  (a probe script: compact on purpose)
"""probe 20: lightly's load_head_sources / replace_heads arguments and solo-learn's nas_init_weights words after 07b0644
(legitimate spellings). Run from the probe folder (runs/s0, and a copy "runs/my run é")."""
import os, pathlib
from nasiam.integrations.lightly import load_head_sources
from nasiam import NASHead
def t(label, f):
    try: print(label, "->", f())
    except BaseException as e: print(label, "->", type(e).__name__, str(e)[:220])
short = lambda r: (sorted(r[0]), r[1])
t("L1 str", lambda: short(load_head_sources("runs/s0")))
t("L2 Path with space+unicode", lambda: short(load_head_sources(pathlib.Path("runs/my run é"))))
t("L3 PurePosixPath", lambda: short(load_head_sources(pathlib.PurePosixPath("runs/s0"))))
t("L4 trailing slash str", lambda: short(load_head_sources("runs/s0/")))
t("L5 genotype.json path", lambda: short(load_head_sources("runs/s0/genotype.json")))
t("L6 absolute", lambda: short(load_head_sources(os.path.abspath("runs/s0"))))
t("L7 '~'-relative (expanduser?)", lambda: short(load_head_sources("~/nonexistent_run")))
t("L8 mapping of heads", lambda: short(load_head_sources({"projection_head": NASHead.from_pretrained("runs/s0/heads/projector")})))
t("L9 mapping of Genotype", lambda: short(load_head_sources({"projection_head": NASHead.from_pretrained("runs/s0/heads/projector").genotype})))
t("L10 RUN/heads (refused, hint)", lambda: short(load_head_sources("runs/s0/heads")))
t("L11 a link to a run", lambda: (os.path.lexists("s0link") or os.symlink(os.path.abspath("runs/s0"), "s0link"), short(load_head_sources("s0link")))[1])
t("L12 os.DirEntry", lambda: short(load_head_sources(next(e for e in os.scandir("runs") if e.name == "s0"))))
try:
    from nasiam.integrations.solo_learn import _flag
    from omegaconf import OmegaConf
    for v in [True, False, "no", "yes", "true", "False", "off", 1, 0, None, "1", "0", 1.0, "maybe"]:
        cfg = OmegaConf.create({"method_kwargs": {"nas_init_weights": v}})
        t(f"S nas_init_weights={v!r}", lambda: _flag(cfg, "nas_init_weights"))
    cfg = OmegaConf.create({"method_kwargs": {}}); t("S absent", lambda: _flag(cfg, "nas_init_weights"))
    cfg = OmegaConf.create({"method_kwargs": {"nas_init_weights": "${oc.env:NAS_INIT,false}"}}); t("S interpolation to env default", lambda: _flag(cfg, "nas_init_weights"))
except ImportError as e:
    print("solo probe skipped:", e)
