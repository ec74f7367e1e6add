# ruff: noqa: E401, E402, E701, E702, E731
"""Fourteenth probe of #33 (h49): create_backbone(pretrained_path=) with a pickle that runs code when unpickled.
Usage: python probe14_pickle.py WORKDIR"""
import os
import pickle
import sys

os.chdir(sys.argv[1])


class Evil:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


with open("evil.pth", "wb") as f:
    pickle.dump({"state_dict": Evil()}, f)
import torch

torch.save({"x": Evil()}, "evil_zip.pth") if False else None
from nasiam.backbones import create_backbone

for path in ("evil.pth",):
    try:
        create_backbone("resnet10t", pretrained_path=path); print("PK1: loaded")
    except BaseException as e:
        print(f"PK1: {type(e).__name__}: {str(e)[:300]!r}")
print("PK1: PWNED exists:", os.path.exists("PWNED"))
