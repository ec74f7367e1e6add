# ruff: noqa: E401, E402, E701, E702, E731, E741, F401, F841, I001  (a probe script: compact on purpose)
"""probe 20: NASHead.save_pretrained's refusal (N8) and is_run_config (P6) vs legitimate saves.
Run from the probe folder (runs/s0 = a tiny search run)."""
import os, shutil, sys, tempfile
from pathlib import Path
from nasiam import NASHead
from nasiam._folders import nasiam_folder, is_run_config

head = NASHead.from_pretrained("runs/s0/heads/projector")
W = Path(tempfile.mkdtemp(dir=".", prefix="save."))
run_cfg = Path("runs/s0/config.yaml")

def case(name, target, setup=None):
    try:
        if setup: setup()
        head.save_pretrained(target)
        print(f"{name}: saved -> {sorted(os.listdir(target))}")
    except Exception as e:
        print(f"{name}: {type(e).__name__}: {e}")

# S1 a project with a copy of a run's config.yaml (e.g. kept to rerun with --config): the folder, heads/mine, models/mine
p = W / "proj1"; p.mkdir(); shutil.copy(run_cfg, p / "config.yaml")
print("S1 nasiam_folder(proj1) =", nasiam_folder(p), "; is_run_config:", is_run_config(p / "config.yaml") is not None)
case("S1a proj-with-copied-run-config/", p)
case("S1b proj-with-copied-run-config/heads/mine", p / "heads" / "mine")
case("S1c proj-with-copied-run-config/heads/mine/v2", p / "heads" / "mine" / "v2")
case("S1d proj-with-copied-run-config/models/mine", p / "models" / "mine")
# S2 a recipe from recipes/ as a project's config.yaml
for r in ["recipes/cpu_quick_demo.yaml", "recipes/cifar10_resnet18_simsiam.yaml"]:
    q = W / ("proj_" + Path(r).stem); q.mkdir(); shutil.copy(r, q / "config.yaml")
    case(f"S2 {r} as config.yaml, heads/mine", q / "heads" / "mine")
# S3 `nasiam pretrain --print_config > config.yaml` style: a full resolved config
# (done by the shell script: probe20_save.sh)
# S4 a Hydra output folder's .hydra/config.yaml; S5 a folder named heads in a user's tree
h = W / "hydra_out"; (h / ".hydra").mkdir(parents=True); shutil.copy(run_cfg, h / ".hydra" / "config.yaml")
case("S4 hydra_out/heads/mine (run config under .hydra/)", h / "heads" / "mine")
case("S5 user tree a/heads/b/heads/c (no records)", W / "a" / "heads" / "b" / "heads" / "c")
# S6 inside a run but outside heads/: RUN/analysis/heads/mine, RUN/heads_v2/mine
case("S6a runs/s0/analysis/mine", "runs/s0/analysis/mine")
case("S6b runs/s0/heads_v2/mine", "runs/s0/heads_v2/mine")
case("S6c runs/s0/analysis/heads/mine", "runs/s0/analysis/heads/mine")
# S7 refusals that should hold
case("S7a runs/s0/heads/projector", "runs/s0/heads/projector")
case("S7b runs/s0/heads/projector/v2", "runs/s0/heads/projector/v2")
case("S7c runs/s0/heads/new", "runs/s0/heads/new")
os.symlink(os.path.abspath("runs/s0/heads/projector"), W / "link_to_slot")
case("S7d link -> runs/s0/heads/projector", W / "link_to_slot")
os.symlink(os.path.abspath("runs/s0/heads"), W / "link_to_heads")
case("S7e link_to_heads/projector", W / "link_to_heads" / "projector")
case("S7f runs/s0", "runs/s0")
# S8 the run's config.yaml as a link (DVC / git-annex keep files as links), a run still training (no summary.json)
t = W / "training"; (t / "checkpoints").mkdir(parents=True)
shutil.copy(run_cfg, W / "cfg_store.yaml"); os.symlink(os.path.abspath(W / "cfg_store.yaml"), t / "config.yaml")
print("S8 nasiam_folder(training with linked config) =", nasiam_folder(t))
case("S8 training run (config.yaml a link, no summary yet)/heads/projector", t / "heads" / "projector")
# S9 a run's config.yaml over 1 MiB (long comment / big list): training run, no summary yet
u = W / "bigcfg"; (u / "checkpoints").mkdir(parents=True)
(u / "config.yaml").write_text(run_cfg.read_text() + "# " + "x" * (1 << 20) + "\n")
print("S9 nasiam_folder(bigcfg) =", nasiam_folder(u))
case("S9 training run with a >1MiB config.yaml: heads/projector", u / "heads" / "projector")
case("S9b training run with a >1MiB config.yaml: genotype beside", u)
# S10 save twice into one's own folder
case("S10a mine/ first", W / "mine"); case("S10b mine/ again", W / "mine")
# S11 a path given as str / bytes-like / relative with ..
case("S11 str relative with ..", str(W / "x" / ".." / "mine2"))
