"""`nasiam search`: search a framework's heads and say what was found."""
from __future__ import annotations

from typing import Any

from nasiam.cli.common import _duration, _scores, add_config_options, run_command
from nasiam.config import SearchConfig


def _print_search_result(summary: dict[str, Any], wall_seconds: float) -> None:
    run_dir = summary["run_dir"]
    print(f"\nSearch finished: {_duration(summary['train_seconds'])} of training, {_duration(wall_seconds)} in all"
          f"{_scores(summary)}.")
    fixed = summary.get("fixed_heads") or []
    for slot, g in summary["genotypes"].items():
        print(f"  {slot:9s} {g}" + ("  (fixed by --predictor, not searched)" if slot in fixed else ""))
    decisions = summary.get("decisions", [])
    if decisions and any("above_noise" in r for r in decisions):
        from nasiam.search.driver import noise_verdict

        above = [r for r in decisions if r.get("above_noise")]
        print(f"\n{len(above)} of {len(decisions)} decisions rose above the noise floor (what "
              f"{summary.get('arch_steps', '?')} architecture steps on pure-noise gradients reach 1 time in 20):")
        for r in above:
            print(f"  {r['head']} layer {r['layer']} {r['choice']}: {r['option']} p={r['probability']:.2f} "
                  f"(noise floor {r['noise_floor']:.2f})")
        if noise_verdict(decisions).mostly_noise:
            print("Note: about as many as noise alone would pass; the exported genotype is mostly the noise's "
                  "choice. Search longer (--epochs) or see summary.json 'decisions' for each one.")
    elif decisions and summary.get("near_uniform_decisions", 0):
        print(f"\nNote: {summary['near_uniform_decisions']} of {len(decisions)} decisions ended near uniform (best "
              "option below 1.5x the uniform probability): the logits barely moved.")
    print(f"\nOutputs in {run_dir}/")
    print("  genotype.json           the searched genotypes (JSON)")
    print("  heads/<slot>/           exported heads with their searched weights: NASHead.from_pretrained(dir)")
    print("  backbone.safetensors    the backbone trained during the search")
    print("  alphas.csv, alphas.png  how every choice evolved")
    print("  summary.json, logs/     metrics; checkpoints/ for --resume and `nasiam export`")


def cmd_search(args) -> int:
    def run(cfg):
        from nasiam.runner.search import run_search  # after --print_config: the runner's imports are slow

        return run_search(cfg)

    return run_command(args, SearchConfig, run, _print_search_result)


def add_parser(sub) -> None:
    search = sub.add_parser("search", help="search a framework's projector/predictor heads (DARTS)",
                            description="Search the heads of an SSL framework. With no option: a quick demo on "
                                        "Fashion-MNIST sized for two CPU cores.")
    search.add_argument("--print_config", "--print-config", action="store_true",
                        help="print the resolved configuration (defaults < recipes < options) as YAML and exit")
    add_config_options(search, SearchConfig)
    search.set_defaults(handler=cmd_search, config_cls=SearchConfig)
