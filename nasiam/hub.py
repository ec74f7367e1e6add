"""Sharing heads on the Hugging Face Hub: `NASHead.push_to_hub`/`from_pretrained` and the
functions of `nasiam.head.hub`, plus `push_run_to_hub` for a run's heads (the layout of a
repo, ids, revisions and the cache: see nasiam.head.hub).

huggingface_hub is imported only when a function here is called: the core runs without it.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from nasiam.head.hub import (
    CONFIG_FILE,
    HUB_PREFIX,
    MODEL_CARD_FILE,
    TAGS,
    check_repo_id,
    describe_transfer_error,
    download_head,
    model_card,
    parse_hub_id,
    push_heads_to_hub,
    transfer_errors,
)
from nasiam.rundir import load_heads

__all__ = ["HUB_PREFIX", "CONFIG_FILE", "MODEL_CARD_FILE", "download_head", "push_heads_to_hub",
           "push_run_to_hub", "check_repo_id", "transfer_errors", "describe_transfer_error", "model_card",
           "parse_hub_id", "TAGS"]


def push_run_to_hub(run_dir: str | os.PathLike, repo_id: str, license: str = "mit", **kwargs: Any) -> Any:
    """Upload a run's heads (RUN_DIR/heads/<slot>, as `nasiam search`/`export`/`pretrain` leave
    them) to `repo_id`, one subfolder per slot, with a model card of what the run recorded (its
    dataset, backbone, framework and final metrics). Each head is loaded with the strict loader
    first, so a damaged run is refused before anything is uploaded. Other keyword arguments as
    for `push_heads_to_hub`."""
    check_repo_id(repo_id)
    heads = sorted(load_heads(run_dir).items(), key=lambda item: (item[0] != "projector", item[0]))
    return push_heads_to_hub(dict(heads), repo_id, card={**run_card(run_dir), "license": license}, **kwargs)


def run_card(run_dir: str | os.PathLike) -> dict[str, Any]:
    """What a model card says of a run: dataset, backbone and framework from its config.yaml,
    and the numbers of its summary.json's final evaluation; what a file lacks is left out."""
    import yaml

    run_dir = Path(run_dir)
    card: dict[str, Any] = {}
    try:
        config = yaml.safe_load((run_dir / "config.yaml").read_text())
    except (OSError, yaml.YAMLError):
        config = None
    if isinstance(config, dict):
        card.update({k: config[k] for k in ("dataset", "backbone", "framework") if isinstance(config.get(k), str)})
    try:
        summary = json.loads((run_dir / "summary.json").read_text())
    except (OSError, ValueError):
        summary = None
    if isinstance(summary, dict):
        card["metrics"] = {k: summary[k] for k in _CARD_METRICS if isinstance(summary.get(k), (int, float))}
    return card


_CARD_METRICS = ("knn_top1", "linear_top1", "linear_top5", "rankme")
