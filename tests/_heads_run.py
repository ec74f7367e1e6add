"""A run directory as `nasiam search` leaves it (heads with weights + genotype.json), made
directly from a supernet so tests that only need the artefacts stay fast."""
from pathlib import Path

import torch

from nasiam import SearchableHead
from nasiam.rundir import write_search_genotypes
from nasiam.space import MLPSpace


def make_search_run(path: Path, in_dim: int, out_dim: int, pred_hidden: int, framework: str = "simsiam",
                    predictor: bool = True) -> Path:
    torch.manual_seed(0)
    space = MLPSpace(widths=(pred_hidden, out_dim), activations=("relu", "gelu"))
    heads = {"projector": SearchableHead(in_dim, out_dim, 1, space, output_norm="batchnorm_noaffine")}
    if predictor:
        heads["predictor"] = SearchableHead(out_dim, out_dim, 1, space)
    genotypes = {}
    for slot, head in heads.items():
        for p in head.arch_parameters():
            with torch.no_grad():
                p.normal_()
        genotypes[slot] = head.genotype(meta={"framework": framework, "slot": slot})
        head.export(genotypes[slot]).save_pretrained(path / "heads" / slot)
    write_search_genotypes(path / "genotype.json", framework, genotypes)
    return path
