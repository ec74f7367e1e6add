"""Probe 16 (h54): L3 through NASSearchCallback (bilevel around a nasiam framework): an
arch_dataloader of 3 views vs the same batches' first 2 views. Usage: probe16_lightning.py WORKDIR"""
import os
import sys
import warnings

import torch

warnings.filterwarnings("ignore")
os.chdir(sys.argv[1])
import pytorch_lightning as pl  # noqa: E402

from nasiam.backbones import create_backbone  # noqa: E402
from nasiam.frameworks import create_framework  # noqa: E402
from nasiam.integrations.lightning import NASSearchCallback, nasiam_weight_parameters  # noqa: E402


class Module(pl.LightningModule):
    def __init__(self):
        super().__init__()
        b = create_backbone("resnet10t")
        self.model = create_framework("simsiam", b, b.num_features, heads="search", space="mlp",
                                      proj_hidden_dim=32, proj_output_dim=32, pred_hidden_dim=16)

    def training_step(self, batch, i):
        return self.model(batch[0])["loss"]

    def configure_optimizers(self):
        return torch.optim.SGD(nasiam_weight_parameters(self), lr=0.05)


def batches(n_views, seed):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(3):
        views = [torch.randn(8, 3, 16, 16, generator=g) for _ in range(3)]
        out.append((views[:n_views], torch.zeros(8, dtype=torch.long)))
    return torch.utils.data.DataLoader(out, batch_size=None, shuffle=False)   # each item a batch, as given


def fit(arch_views):
    torch.manual_seed(0)
    m = Module()
    cb = NASSearchCallback(arch_dataloader=batches(arch_views, 1), warmup_epochs=0, log_metrics=False)
    pl.Trainer(max_epochs=1, accelerator="cpu", callbacks=[cb], logger=False, enable_checkpointing=False,
               enable_progress_bar=False, enable_model_summary=False).fit(m, batches(2, 0))
    return torch.cat([p.detach().flatten() for h in cb.heads.values() for p in h.arch_parameters()])


try:
    two, three = fit(2), fit(3)
    print(f"LC1 arch_dataloader of 3 views: accepted; logits equal to those of its first 2 views: {torch.equal(two, three)}; "
          f"moved from init: {not torch.equal(two, torch.zeros_like(two))}")
except Exception as e:  # noqa: BLE001
    print(f"LC1: {type(e).__name__}: {str(e)[:400]}")
