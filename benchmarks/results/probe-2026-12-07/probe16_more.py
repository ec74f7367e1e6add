"""Probe 16 (h54): every shipped recipe read as its command reads it (legitimate: must load), and
lightly's models given nasiam exports of other methods and widths. Usage: probe16_more.py WORKDIR RECIPES_DIR"""
import os
import sys
import traceback
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")
W, R = Path(sys.argv[1]), Path(sys.argv[2]).resolve()
os.chdir(W)


def probe(pid, what, fn):
    try:
        print(f"{pid} {what}: OK {str(fn())[:250]}")
    except Exception as e:  # noqa: BLE001
        tb = traceback.extract_tb(e.__traceback__)[-1]
        print(f"{pid} {what}: {type(e).__name__}: {str(e)[:350]}  [at {Path(tb.filename).name}:{tb.lineno}]")


from nasiam.config import PretrainConfig, SearchConfig, load_config  # noqa: E402

for path in sorted(R.glob("*.yaml")):
    for cls in (SearchConfig, PretrainConfig):
        probe(f"RC {path.name} {cls.__name__}", "load_config", lambda p=path, c=cls: (lambda cfg: f"{cfg.framework} {cfg.dataset} {cfg.epochs} ep")(load_config(c, p, check_environment=False)))

import torch  # noqa: E402
from lightly.models.modules import SimCLRProjectionHead, SimSiamPredictionHead, SimSiamProjectionHead  # noqa: E402
from torch import nn  # noqa: E402

from nasiam.integrations.lightly import replace_heads  # noqa: E402


class LightlySimSiam(nn.Module):   # lightly's example model, at nasiam's demo widths
    def __init__(self, out=512, hidden=512, pred=128):
        super().__init__()
        self.backbone = nn.Identity()
        self.projection_head = SimSiamProjectionHead(512, hidden, out)
        self.prediction_head = SimSiamPredictionHead(out, pred, out)


class LightlySimCLR(nn.Module):
    def __init__(self, out=512):
        super().__init__()
        self.backbone = nn.Identity()
        self.projection_head = SimCLRProjectionHead(512, 512, out)


probe("LY1", "replace_heads(lightly SimSiam, e0) (simsiam's export, same widths)", lambda: replace_heads(LightlySimSiam(), "e0"))
probe("LY2", "replace_heads(lightly SimSiam, e1) (simclr's export: no predictor)", lambda: replace_heads(LightlySimSiam(), "e1"))
probe("LY3", "replace_heads(lightly SimCLR, e0) (simsiam's export: a predictor too)", lambda: replace_heads(LightlySimCLR(), "e0"))
probe("LY4", "replace_heads(lightly SimSiam(out=128), e0) (other widths, weights)", lambda: replace_heads(LightlySimSiam(out=128), "e0"))
probe("LY5", "replace_heads(lightly SimSiam(out=128), 'e0/genotype.json') (architectures only)",
      lambda: replace_heads(LightlySimSiam(out=128), "e0/genotype.json"))
probe("LY6", "replace_heads(lightly SimSiam, runs/p0) (a pretraining run)", lambda: replace_heads(LightlySimSiam(), "runs/p0"))


def ly7():
    m = LightlySimSiam()
    replace_heads(m, "e0")
    z = m.projection_head(torch.randn(4, 512))
    return m.prediction_head(z).shape


probe("LY7", "forward after replace_heads(e0)", ly7)
