"""SimCLR (Chen et al., arXiv 2002.05709): a projector and the NT-Xent loss over the global
batch (negatives gathered from every rank)."""
from __future__ import annotations

from nasiam.frameworks.base import Encoded, HeadSlot, SSLFramework
from nasiam.frameworks.losses import nt_xent


class SimCLR(SSLFramework):
    """Dims: `proj_hidden_dim` (2048), `proj_output_dim` (128). `temperature`: 0.1-0.5 in
    the paper; 0.2 by default."""

    name = "simclr"
    config_options = ("temperature",)
    augmentation = "simclr"   # crops down to 8 %, strong colour jitter
    solo_learn_method = ("simclr", "SimCLR")

    def __init__(self, *args, temperature: float = 0.2, **kwargs):
        super().__init__(*args, **kwargs)
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = temperature

    @classmethod
    def head_slots(cls, feature_dim: int, proj_hidden_dim: int = 2048, proj_output_dim: int = 128) -> dict[str, HeadSlot]:
        return {"projector": HeadSlot("projector", feature_dim, proj_output_dim, "simclr_projector",
                                      {"hidden_dim": proj_hidden_dim, "out_dim": proj_output_dim},
                                      output_norm="batchnorm")}

    def _head_loss(self, encoded: Encoded, update_state: bool):
        z1, z2 = (self.projector(f) for f in encoded.online[:2])
        return {"loss": nt_xent(z1, z2, self.temperature), "z": z1.detach()}
