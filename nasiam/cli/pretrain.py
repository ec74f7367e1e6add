"""`nasiam pretrain`: SSL pretraining with a fixed head."""
from __future__ import annotations

import time

from nasiam.cli.common import (
    EXIT_OK,
    _duration,
    _finished,
    _print_config,
    _scores,
    add_config_options,
    config_from_args,
)
from nasiam.config import PretrainConfig


def cmd_pretrain(args) -> int:
    cfg = config_from_args(PretrainConfig, args)
    if _print_config(args, cfg):
        return EXIT_OK
    from nasiam.runner.pretrain import run_pretrain

    started = time.perf_counter()
    summary = run_pretrain(cfg)
    _finished(args, summary)
    if summary.get("global_rank", 0) == 0:
        print(f"\nPretraining finished: {_duration(summary['train_seconds'])} of training, "
              f"{_duration(time.perf_counter() - started)} in all{_scores(summary)}.")
        for slot, head in summary["heads"].items():
            print(f"  {slot:9s} {head}")
        print(f"Outputs in {summary['run_dir']}/ (backbone.safetensors, heads/, summary.json, logs/)")
    return EXIT_OK


def add_parser(sub) -> None:
    pretrain = sub.add_parser("pretrain", help="SSL pretraining with a searched or standard head",
                              description="Standard SSL pretraining with a fixed-architecture head: --head default, "
                                          "--head RUN_DIR|genotype.json (from scratch) or --init RUN_DIR (continue "
                                          "from the search's weights).")
    pretrain.add_argument("--print_config", "--print-config", action="store_true",
                          help="print the resolved configuration (defaults < recipes < options) as YAML and exit")
    add_config_options(pretrain, PretrainConfig)
    pretrain.set_defaults(handler=cmd_pretrain, config_cls=PretrainConfig)
