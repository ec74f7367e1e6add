# ruff: noqa: E402, E702, E741  (a probe script: compact on purpose)
"""Q/Part B: `nasiam push` and head/hub.py with hostile local folders, no network: huggingface_hub's
HfApi replaced by a recorder (HF_HUB_OFFLINE=1 too), the CLI's main called in process."""
import contextlib
import io
import json
import os
import shutil
import sys
import types

os.environ["HF_HUB_OFFLINE"] = "1"
P = os.environ["PROBE"]; os.chdir(P)
import huggingface_hub

from nasiam.cli import main

calls = []
class FakeApi:
    def __init__(self, *a, **k): pass
    def create_repo(self, repo_id, **k): calls.append(("create_repo", repo_id)); return repo_id
    def model_info(self, repo_id, **k): return types.SimpleNamespace(private=False)
    def update_repo_settings(self, repo_id, private=None, token=None): calls.append(("private", repo_id))
    def create_branch(self, repo_id, **k): calls.append(("branch", k.get("branch")))
    def upload_folder(self, *, repo_id, folder_path, **k):
        files = sorted(os.path.relpath(os.path.join(d, f), folder_path) for d, _, fs in os.walk(folder_path) for f in fs)
        card = open(os.path.join(folder_path, "README.md")).read()
        calls.append(("upload", files, card))
        return types.SimpleNamespace(commit_url=f"https://hub/{repo_id}/commit/1")
huggingface_hub.HfApi = FakeApi
RUN = [os.path.join("runs/p0", d) for d in os.listdir("runs/p0")][0]

def push(label, run, *extra, show_card=False):
    calls.clear()
    err, out = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            rc = main(["push", run, "--repo", "user/name", *extra])
    except BaseException as e:
        rc = f"RAISED {type(e).__name__}: {str(e)[:200]}"
    up = [c for c in calls if c[0] == "upload"]
    print(f"[{label}] rc={rc} uploaded={up[0][1] if up else None}\n    err: {err.getvalue().strip()[-400:]!r}")
    if show_card and up:
        card = up[0][2]
        print("    card:", [l for l in card.splitlines() if l.startswith(("|", "license", "- ", "datasets"))][:14])

def copy_run(name):
    d = os.path.join("hub", name)
    shutil.rmtree(d, ignore_errors=True); shutil.copytree(RUN, d, symlinks=True); return d

push("H1 normal", RUN, show_card=True)
d = copy_run("nan"); s = json.load(open(f"{d}/summary.json")); s.update(knn_top1=float("nan"), linear_top1=float("inf"), rankme=True)
open(f"{d}/summary.json", "w").write(json.dumps(s)); push("H2 NaN/inf/bool metrics", d, show_card=True)
d = copy_run("deepjson"); open(f"{d}/summary.json", "w").write("[" * 200000 + "]" * 200000); push("H3 summary.json 200k deep", d)
d = copy_run("deepyaml"); open(f"{d}/config.yaml", "w").write("a: " + "[" * 200000 + "]" * 200000 + "\n"); push("H4 config.yaml 200k deep", d)
d = copy_run("yamlinj"); c = open(f"{d}/config.yaml").read().replace("dataset: synthetic", 'dataset: "x\\n---\\nlicense: evil"')
open(f"{d}/config.yaml", "w").write(c); push("H5 dataset with newline", d, show_card=True)
d = copy_run("bincfg"); open(f"{d}/config.yaml", "wb").write(b"\xff\xfe\x00bad"); push("H6 config.yaml not UTF-8", d, show_card=True)
d = copy_run("dotslot"); os.makedirs(f"{d}/heads/.projector.tmp123"); push("H7 heads/ with a leftover dot folder", d)
d = copy_run("spaceslot"); shutil.copytree(f"{d}/heads/projector", f"{d}/heads/my head"); push("H8 heads/'my head'", d)
d = copy_run("nlslot"); shutil.copytree(f"{d}/heads/projector", f"{d}/heads/a\nb"); push("H9 heads/ slot with newline", d)
d = copy_run("uslot"); shutil.copytree(f"{d}/heads/projector", f"{d}/heads/proj\u00e9"); push("H10 heads/ unicode slot", d)
d = copy_run("fileslot"); open(f"{d}/heads/notes.txt", "w").write("x"); push("H11 heads/ with a stray file", d)
d = copy_run("linkslot"); os.symlink(os.path.abspath(f"{RUN}/heads/projector"), f"{d}/heads/other"); push("H12 heads/ slot a symlink to another run's head", d)
d = copy_run("loopslot"); os.symlink("loop", f"{d}/heads/loop"); push("H13 heads/ dangling self-loop link", d)
d = copy_run("noheads"); shutil.rmtree(f"{d}/heads"); push("H14 no heads/", d)
d = copy_run("emptyheads"); shutil.rmtree(f"{d}/heads"); os.makedirs(f"{d}/heads"); push("H15 empty heads/", d)
d = copy_run("bigsummary"); open(f"{d}/summary.json", "w").write('{"knn_top1": 1.0, "pad": "' + "x" * 300_000_000 + '"}'); push("H16 summary.json 300 MB", d); os.remove(f"{d}/summary.json")
push("H17 --revision with space", RUN, "--revision", "a b")
push("H18 --private", RUN, "--private")
sys.modules["huggingface_hub"] = None
push("H19 huggingface_hub missing", RUN)
