"""D1 followed: which tensors the 64 flipped bytes of last.ckpt changed, and whether the export of
the flipped checkpoint (n/f9/x1) carries them. usage: python probe10_flipcheck.py T"""
import sys

import torch
from safetensors.torch import load_file

T = sys.argv[1]
clean = torch.load(f"{T}/runs/s0/checkpoints/last.ckpt", map_location="cpu", weights_only=True)
flip = torch.load(f"{T}/n/f9/flip/checkpoints/last.ckpt", map_location="cpu", weights_only=True)
changed = [k for k, v in clean["model"].items() if torch.is_tensor(v) and not torch.equal(v, flip["model"][k])]
print("D1b tensors of the model changed by the flip:", changed[:5])
for k in changed[:3]:
    d = (clean["model"][k] != flip["model"][k])
    print(f"  {k}: {int(d.sum())} values, e.g. {clean['model'][k][d][:3].tolist()} -> {flip['model'][k][d][:3].tolist()}")
for name in ("backbone.safetensors", "heads/projector/head.safetensors", "heads/predictor/head.safetensors"):
    a, b = load_file(f"{T}/runs/s0/{name}"), load_file(f"{T}/n/f9/x1/{name}")
    diff = [k for k in a if not torch.equal(a[k], b[k])]
    print(f"D1b {name}: the run's own vs the flipped checkpoint's export: {len(diff)} tensors differ {diff[:3]}")
for name in ("backbone.safetensors", "heads/projector/head.safetensors", "heads/predictor/head.safetensors"):
    a, b = load_file(f"{T}/runs/s0/{name}"), load_file(f"{T}/n/f9/flip/{name}")
    diff = [k for k in a if not torch.equal(a[k], b[k])]
    print(f"D2b {name}: the finished run's own (runs/s0) vs the same run after `--resume` on the flipped checkpoint (n/f9/flip): {len(diff)} tensors differ {diff[:3]}")
