"""SimSiam (Chen & He, arXiv 2011.10566): a projector, a predictor, negative cosine with a
stop-gradient on the target branch, no negatives and no momentum encoder."""
from __future__ import annotations

from typing import Mapping

from nasiam.frameworks.base import Encoded, HeadSlot, SSLFramework
from nasiam.frameworks.losses import simsiam_loss
from nasiam.presets import NASIAM_SIMSIAM_CIFAR10_RESNET18, nasiam_paper_simsiam
from nasiam.space.genotype import Genotype


class SimSiam(SSLFramework):
    """Dims: `proj_hidden_dim` (2048), `proj_output_dim` (2048), `pred_hidden_dim` (512),
    `proj_layers` (3 for ImageNet; 2 for the CIFAR variant)."""

    name = "simsiam"
    # DirectPred's closed form beat SimSiam's MLP predictor by +2.04 linear points on 8 declared
    # seeds (benchmarks/RESULTS.md), the best predictor measured for it
    prior_predictor_family = "directpred"
    # the official code builds its ResNet with zero_init_residual=True and keeps the predictor's
    # learning rate fixed (section 4.4)
    zero_init_residual = True
    fixed_predictor_lr = True
    solo_learn_method = ("simsiam", "SimSiam")

    @classmethod
    def published_heads(cls, slots: Mapping[str, HeadSlot]) -> dict[str, Genotype]:
        """NASiam's searched genotype (Heuillet et al. 2023, CIFAR-10, ResNet-18) at the slots' widths."""
        projector, predictor = nasiam_paper_simsiam(
            NASIAM_SIMSIAM_CIFAR10_RESNET18["encoder"], NASIAM_SIMSIAM_CIFAR10_RESNET18["predictor"],
            in_dim=slots["projector"].in_dim, dim=slots["projector"].out_dim,
            pred_dim=slots["predictor"].preset_kwargs["hidden_dim"])
        return {"projector": projector, "predictor": predictor}

    @classmethod
    def head_slots(cls, feature_dim: int, proj_hidden_dim: int = 2048, proj_output_dim: int = 2048,
                   pred_hidden_dim: int = 512, proj_layers: int = 3) -> dict[str, HeadSlot]:
        if proj_layers not in (2, 3):
            raise ValueError("SimSiam's projector has 3 layers (ImageNet) or 2 (CIFAR)")
        projector = HeadSlot("projector", feature_dim, proj_output_dim,
                             "simsiam_projector" if proj_layers == 3 else "simsiam_projector_cifar",
                             {"hidden_dim": proj_hidden_dim, "out_dim": proj_output_dim},
                             output_norm="batchnorm_noaffine", num_layers=proj_layers - 1)
        predictor = HeadSlot("predictor", proj_output_dim, proj_output_dim, "simsiam_predictor",
                             {"hidden_dim": pred_hidden_dim, "out_dim": proj_output_dim}, output_norm="none")
        return {"projector": projector, "predictor": predictor}

    def _head_loss(self, encoded: Encoded, update_state: bool):
        z1, z2 = (self.projector(f) for f in encoded.online[:2])
        p1, p2 = self.predictor(z1), self.predictor(z2)
        return {"loss": simsiam_loss(p1, p2, z1, z2), "z": z1.detach()}
