"""`nasiam pretrain`: SSL pretraining with a fixed head."""
from __future__ import annotations

from nasiam.cli.common import _duration, _scores, add_config_options, run_command
from nasiam.config import PretrainConfig


def cmd_pretrain(args) -> int:
    def run(cfg):
        from nasiam.runner.pretrain import run_pretrain  # after --print_config: the runner's imports are slow

        return run_pretrain(cfg)

    return run_command(args, PretrainConfig, run, _report)


def _report(summary, seconds: float) -> None:
    print(f"\nPretraining finished: {_duration(summary['train_seconds'])} of training, "
          f"{_duration(seconds)} in all{_scores(summary)}.")
    for slot, head in summary["heads"].items():
        print(f"  {slot:9s} {head}")
    print(f"Outputs in {summary['run_dir']}/ (backbone.safetensors, heads/, summary.json, logs/)")


def add_parser(sub) -> None:
    pretrain = sub.add_parser("pretrain", help="SSL pretraining with a searched or standard head",
                              description="Standard SSL pretraining with a fixed-architecture head: --head default, "
                                          "--head RUN_DIR|genotype.json (from scratch) or --init RUN_DIR (continue "
                                          "from the search's weights).")
    pretrain.add_argument("--print_config", "--print-config", action="store_true",
                          help="print the resolved configuration (defaults < recipes < options) as YAML and exit")
    add_config_options(pretrain, PretrainConfig)
    pretrain.set_defaults(handler=cmd_pretrain, config_cls=PretrainConfig)
