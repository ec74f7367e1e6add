# ruff: noqa: E401, E402, E701, E702, E731, E741, F401, F841, I001  (a probe script: compact on purpose)
"""probe 20: push's run card after 07b0644 (h61), no network: HfApi replaced by a recorder (as probe19_hub).
Run from the probe folder (runs/s0 a tiny search, ex1 its export made there: export.json "run": "runs/s0")."""
import contextlib, io, json, os, shutil, types
os.environ["HF_HUB_OFFLINE"] = "1"
import huggingface_hub
from nasiam.cli import main
P = os.getcwd(); calls = []
class FakeApi:
    def __init__(self, *a, **k): pass
    def create_repo(self, repo_id, **k): return repo_id
    def model_info(self, repo_id, **k): return types.SimpleNamespace(private=False)
    def update_repo_settings(self, repo_id, private=None, token=None): pass
    def create_branch(self, repo_id, **k): pass
    def upload_folder(self, *, repo_id, folder_path, **k):
        files = sorted(os.path.relpath(os.path.join(d, f), folder_path) for d, _, fs in os.walk(folder_path) for f in fs)
        calls.append((files, open(os.path.join(folder_path, "README.md")).read()))
        return types.SimpleNamespace(commit_url=f"https://hub/{repo_id}/commit/1")
huggingface_hub.HfApi = FakeApi

def push(label, run, *extra):
    calls.clear(); err, out = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            rc = main(["push", run, "--repo", "user/name", *extra])
    except BaseException as e:
        rc = f"RAISED {type(e).__name__}: {str(e)[:200]}"
    print(f"[{label}] rc={rc} uploaded={calls[0][0] if calls else None}\n    err: {err.getvalue().strip()[-300:]!r}")
    if calls:
        print("    card:", [l for l in calls[0][1].splitlines() if l.startswith(("|", "- ", "datasets"))][:12])

push("P1 run s0", "runs/s0")
push("P2 export ex1 (from the folder it was made in)", "ex1")
os.makedirs("elsewhere", exist_ok=True); os.chdir("elsewhere")
push("P3 export ex1 from another working folder (no runs/s0 there)", os.path.join(P, "ex1"))
os.makedirs("runs/s0", exist_ok=True)
cfg = open(os.path.join(P, "runs/s0/config.yaml")).read().replace("dataset: synthetic", "dataset: cifar100").replace("framework: simsiam", "framework: mocov3")
open("runs/s0/config.yaml", "w").write(cfg)
push("P4 export ex1 from a folder whose runs/s0 is ANOTHER run (cifar100, mocov3)", os.path.join(P, "ex1"))
open("runs/s0/config.yaml", "w").write("- a list, e.g. another tool's config\n")
push("P5 export ex1 from a folder whose runs/s0 holds another tool's config.yaml", os.path.join(P, "ex1"))
os.chdir(P)
d = "hub/big"; shutil.rmtree(d, ignore_errors=True); shutil.copytree("runs/s0", d)
open(f"{d}/config.yaml", "a").write("# " + "x" * (3 << 20) + "\n")
push("P6 a run whose config.yaml has a 3 MiB comment (sane, large)", d)
d = "hub/hidden"; shutil.rmtree(d, ignore_errors=True); shutil.copytree("runs/s0", d); os.makedirs(f"{d}/heads/.ipynb_checkpoints")
shutil.copytree(f"{d}/heads/projector", f"{d}/heads/.old_projector")
push("P7 heads/ with .ipynb_checkpoints and a hidden copy of a head", d)
d = "hub/empty_cfg"; shutil.rmtree(d, ignore_errors=True); shutil.copytree("runs/s0", d); open(f"{d}/config.yaml", "w").write("")
push("P8 a run whose config.yaml is empty (0 bytes)", d)
d = "hub/nosummary_keys"; shutil.rmtree(d, ignore_errors=True); shutil.copytree("runs/s0", d)
s = json.load(open(f"{d}/summary.json")); s = {k: v for k, v in s.items() if k in ("framework", "files", "genotypes", "knn_top1", "epochs")}
s["knn_top1"] = 10 ** 400; open(f"{d}/summary.json", "w").write(json.dumps(s))
push("P9 an older run's summary (few keys), knn_top1 = 10**400", d)
