# ruff: noqa: E402, E702, E741  (a probe script: compact on purpose)
"""Q/Part B: `nasiam push` of an export folder (documented: "search, export or pretrain"), fake HfApi."""
import contextlib
import io
import os
import sys
import types

os.environ["HF_HUB_OFFLINE"] = "1"; os.chdir(os.environ["PROBE"])
import huggingface_hub

from nasiam.cli import main


class FakeApi:
    def __init__(self, *a, **k): pass
    def create_repo(self, *a, **k): pass
    def upload_folder(self, *, repo_id, folder_path, **k):
        card = open(os.path.join(folder_path, "README.md")).read()
        print("card rows:", [l for l in card.splitlines() if l.startswith(("| ", "datasets", "- "))][:12], file=sys.__stdout__)
        return types.SimpleNamespace(commit_url="https://hub/x")
huggingface_hub.HfApi = FakeApi
err = io.StringIO()
with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()) as out:
    rc = main(["push", "ex1", "--repo", "user/name"])
print("rc", rc, repr(err.getvalue()), repr(out.getvalue()[:200]))
