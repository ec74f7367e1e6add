"""`nasiam export`: re-export heads from a search's checkpoint, e.g. the k-th most probable
genotype or another epoch's."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from nasiam.config import SearchConfig, load_config
from nasiam.data import DataNotFoundError
from nasiam.runner import checkpoint as ckpt
from nasiam.runner import outputs
from nasiam.runner.build import (
    backbone_record,
    build_search_model,
    build_train_data,
    canonical_framework,
    data_info,
    recalibrate_exported,
)
from nasiam.runner.errors import CheckpointError
from nasiam.space.genotype import MAX_WIDTH


def export_run(run_dir: str | Path, out: str | Path, rank: int = 1, checkpoint: str | Path | None = None,
               proj_output_dim: int | None = None) -> dict[str, Any]:
    """Write heads/<slot>/ (NASHead.save_pretrained), genotype.json and the backbone to `out`
    from `checkpoint` (default: the run's last) choosing each head's `rank`-th most probable
    genotype.

    `proj_output_dim` re-exports the heads for a model of another output width (lightly's
    SimSiam 128, solo-learn's CIFAR SimSiam 2048) by `NASHead.resized`'s rule: the projector
    keeps its searched hidden layers and their weights, its output layer is freshly
    initialised at the new width; a predictor (whose input and output are that width) keeps its
    searched hidden widths, all its weights fresh. Which layers are fresh is returned and
    recorded in each head's genotype meta ("fresh_layers", "resized_from")."""
    run_dir, out = Path(run_dir), Path(out)
    config_path = run_dir / "config.yaml"
    if not config_path.is_file():
        raise CheckpointError(f"{run_dir} is not a search run directory (no config.yaml)")
    cfg = load_config(SearchConfig, config_path, check_environment=False)  # exporting needs no optuna/wandb
    if rank < 1:
        raise ValueError("--rank counts from 1 (the most probable genotype)")
    if proj_output_dim is not None and not 1 <= proj_output_dim <= MAX_WIDTH:
        raise ValueError(f"--proj_output_dim must be an integer in [1, {MAX_WIDTH}], not {proj_output_dim}")
    path = Path(checkpoint) if checkpoint else ckpt.find_checkpoint(run_dir)
    state = ckpt.load_checkpoint(path, "search")
    ckpt.check_compatible(state["nasiam"]["config"], cfg.__dict__, ("framework", "space", "widths", "backbone"), path)
    info = data_info(cfg)
    model = build_search_model(cfg, info)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as e:
        raise CheckpointError(f"{path} does not fit the run's configuration: {str(e).splitlines()[0]}") from None
    framework = canonical_framework(cfg)
    genotypes, heads = {}, {}
    if model.fixed_heads():   # a head the search kept fixed (--predictor) goes out as it is
        found, exported = model.genotypes(), model.export_heads()
        for slot in model.fixed_heads():
            genotypes[slot], heads[slot] = found[slot], exported[slot]
    for slot, head in model.searchable_heads().items():
        ranked = head.top_genotypes(rank, meta={"framework": framework, "slot": slot, "epoch": int(state["epoch"]),
                                               "rank": rank})
        if len(ranked) < rank:
            raise ValueError(f"the {slot} has only {len(ranked)} distinct genotypes; --rank {rank} does not exist")
        genotypes[slot] = ranked[-1]
        heads[slot] = head.export(genotypes[slot])
    order = [slot for slot in model.heads() if slot in genotypes]   # the model's slot order, as a search writes
    genotypes, heads = {s: genotypes[s] for s in order}, {s: heads[s] for s in order}
    fresh = {}
    if proj_output_dim is not None:
        # the predictor reads the projector's output and gives back its width (SimSiam, MoCo v3)
        dims = {"projector": (None, proj_output_dim), "predictor": (proj_output_dim, proj_output_dim)}
        for slot, head in heads.items():
            heads[slot] = head.resized(*dims[slot])
            genotypes[slot] = heads[slot].genotype
            fresh[slot] = list(genotypes[slot].meta.get("fresh_layers", []))
    written = {slot: g.describe() for slot, g in genotypes.items()}
    try:  # as `nasiam search` does: BatchNorm statistics of the exported architecture
        data = build_train_data(cfg, info, bilevel=cfg.mode == "bilevel", arch_fraction=cfg.arch_fraction)
        recalibrate_exported(heads, model.backbone, data.calibration, "cpu", cfg.batch_size, cfg.seed)
        recalibrated = True
    except (DataNotFoundError, ValueError):
        recalibrated = False
    for slot, head in heads.items():
        head.save_pretrained(out / "heads" / slot)
    outputs.write_search_genotypes(out / "genotype.json", framework, genotypes)
    outputs.save_backbone(out, model.backbone, backbone_record(cfg, info, model.backbone))
    return {"out": str(out), "epoch": int(state["epoch"]), "rank": rank, "genotypes": written,
            "recalibrated": recalibrated, "fresh_layers": fresh}
