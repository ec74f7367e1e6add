"""Probe 12 (h43): follow-ups of probe12_library.py: A3/A6 checked, swap_head at a path naming a
non-module attribute with dims given (E6), lightly replace_heads with a non-module (F5), the
missing-folder message's characters (D3). usage: python probe12_swap.py"""
import torch
from torch import nn

from nasiam import NASHead, SearchableHead
from nasiam.integrations.lightly import replace_heads
from nasiam.integrations.plain import swap_head

torch.manual_seed(0)
h = SearchableHead(16, 8, num_layers=0)
print("A3 num_layers=0: output", tuple(h(torch.randn(4, 16)).shape), "genotype layers", len(h.genotype().layers))
print("A6 in_dim from torch.tensor(16):", type(SearchableHead(torch.tensor(16), 8).genotype().in_dim).__name__)
g = SearchableHead(16, 8).genotype()
for path in ("training", "forward", "__class__"):
    model = nn.Sequential(nn.Linear(16, 16), nn.Linear(16, 8))
    try:
        old = swap_head(model, path, NASHead.from_genotype(g, 16), in_dim=16, out_dim=8)
        print(f"E6 swap_head(model, {path!r}, head, in_dim=16, out_dim=8) returned the old {type(old).__name__}; "
              f"children now {[n for n, _ in model.named_children()]}")
        try:
            model.eval()
            print("   model.eval() ok; model(x):", tuple(model(torch.randn(4, 16)).shape))
        except Exception as e:   # noqa: BLE001
            print("   after the swap:", type(e).__name__, e)
    except Exception as e:   # noqa: BLE001
        print(f"E6 {path!r}:", type(e).__name__, str(e)[:200])


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.projection_head = nn.Sequential(nn.Linear(16, 16), nn.Linear(16, 8))


try:
    print("F5", replace_heads(M(), {"projector": 5}))
except Exception as e:   # noqa: BLE001
    print("F5 replace_heads(model, {'projector': 5}):", type(e).__name__, str(e)[:200])
try:
    NASHead.from_pretrained("/tmp/no\x1b[2Jpe")
except Exception as e:   # noqa: BLE001
    print("D3 from_pretrained('/tmp/no\\x1b[2Jpe'):", type(e).__name__, "raw ESC in the message:", "\x1b" in str(e))
