"""MoCo v2 (Chen et al., arXiv 2003.04297) and MoCo v3 (Chen et al., arXiv 2104.02057).

Both keep momentum (EMA) copies of the backbone and projector (see `MomentumMixin` for how a
searched projector's copy follows the architecture). v2 contrasts each query with the key of
its other view and a queue of past keys; v3 drops the queue, adds a predictor, and contrasts
with the keys of the global batch. Both use the symmetrised loss (each view is a query once),
as solo-learn's `mocov2plus` and the v3 paper do.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from nasiam.frameworks.base import Encoded, HeadSlot, MomentumMixin, SSLFramework
from nasiam.frameworks.distributed import gather_no_grad
from nasiam.frameworks.losses import info_nce_batch, info_nce_queue


class MoCoV2(MomentumMixin, SSLFramework):
    """Dims: `proj_hidden_dim` (2048), `proj_output_dim` (128). `queue_size` (65536 on
    ImageNet), `temperature` (0.2); the EMA momentum (0.999) is the runner's to schedule."""

    name = "mocov2"
    config_options = ("queue_size", "temperature")
    state_options = {"queue_size": "the queue"}
    solo_learn_method = ("mocov2plus", "MoCoV2Plus")   # solo-learn's symmetrised MoCo v2, as this one

    def __init__(self, *args, queue_size: int = 65536, temperature: float = 0.2, **kwargs):
        super().__init__(*args, **kwargs)
        if queue_size < 1 or not temperature > 0:
            raise ValueError("queue_size must be positive and temperature > 0")
        self.temperature = temperature
        self._init_momentum()
        dim = self.slots["projector"].out_dim
        self.register_buffer("queue", F.normalize(torch.randn(queue_size, dim), dim=1))
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))

    @classmethod
    def state_bytes(cls, cfg) -> int:
        """The queue of keys in float32. Unset options count as nothing and 2048 features, as
        the check always has (a default queue of 65536 x 128 floats is 32 MiB)."""
        return (getattr(cfg, "queue_size", None) or 0) * (getattr(cfg, "proj_output_dim", None) or 2048) * 4

    @classmethod
    def head_slots(cls, feature_dim: int, proj_hidden_dim: int = 2048, proj_output_dim: int = 128) -> dict[str, HeadSlot]:
        return {"projector": HeadSlot("projector", feature_dim, proj_output_dim, "mocov2_projector",
                                      {"hidden_dim": proj_hidden_dim, "out_dim": proj_output_dim},
                                      output_norm="none")}

    @torch.no_grad()
    def enqueue(self, keys: Tensor) -> None:
        """Replace the oldest entries of the queue by `keys` (gathered from all ranks)."""
        keys = gather_no_grad(keys)
        size = self.queue.shape[0]
        if keys.shape[0] > size:
            keys = keys[-size:]
        index = (self.queue_ptr + torch.arange(keys.shape[0], device=keys.device)) % size
        self.queue.index_copy_(0, index, keys.to(self.queue.dtype))
        self.queue_ptr.copy_((self.queue_ptr + keys.shape[0]) % size)

    def _head_loss(self, encoded: Encoded, update_state: bool):
        z1, z2 = (self.projector(f) for f in encoded.online[:2])
        q1, q2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
        with torch.no_grad():
            target = self._target_projector()
            k1, k2 = (F.normalize(target(f), dim=1) for f in encoded.target[:2])
        loss = 0.5 * (info_nce_queue(q1, k2, self.queue, self.temperature)
                      + info_nce_queue(q2, k1, self.queue, self.temperature))
        if update_state:
            self.enqueue(torch.cat([k1, k2]))
        return {"loss": loss, "z": z1.detach()}


class MoCoV3(MomentumMixin, SSLFramework):
    """Dims: `proj_hidden_dim` (4096), `proj_output_dim` (256), `pred_hidden_dim` (4096).
    `temperature`: 0.2 by default (the v3 paper uses 1.0 for ResNet-50 on ImageNet; its
    recipe sets it)."""

    name = "mocov3"
    config_options = ("temperature",)
    solo_learn_method = ("mocov3", "MoCoV3")

    def __init__(self, *args, temperature: float = 0.2, **kwargs):
        super().__init__(*args, **kwargs)
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = temperature
        self._init_momentum()

    @classmethod
    def head_slots(cls, feature_dim: int, proj_hidden_dim: int = 4096, proj_output_dim: int = 256,
                   pred_hidden_dim: int = 4096) -> dict[str, HeadSlot]:
        projector = HeadSlot("projector", feature_dim, proj_output_dim, "mocov3_projector",
                             {"hidden_dim": proj_hidden_dim, "out_dim": proj_output_dim},
                             output_norm="batchnorm_noaffine", num_layers=1)
        predictor = HeadSlot("predictor", proj_output_dim, proj_output_dim, "mocov3_predictor",
                             {"hidden_dim": pred_hidden_dim, "out_dim": proj_output_dim},
                             output_norm="none", output_bias=False)
        return {"projector": projector, "predictor": predictor}

    def _head_loss(self, encoded: Encoded, update_state: bool):
        z1, z2 = (self.projector(f) for f in encoded.online[:2])
        q1, q2 = self.predictor(z1), self.predictor(z2)
        with torch.no_grad():
            target = self._target_projector()
            k1, k2 = (target(f) for f in encoded.target[:2])
        loss = info_nce_batch(q1, k2, self.temperature) + info_nce_batch(q2, k1, self.temperature)
        return {"loss": loss, "z": z1.detach()}
