"""What the commands share: exit codes, a configuration's fields as options, usage errors."""
from __future__ import annotations

import argparse
import dataclasses
import time
import typing
from typing import Any, Sequence

from nasiam.config import BOUNDS, ConfigError, config_choices, config_to_yaml, field_types, load_config
from nasiam.errors import shown_path

EXIT_OK, EXIT_USAGE, EXIT_COLLAPSE, EXIT_NONFINITE, EXIT_IO, EXIT_INTERRUPTED = 0, 2, 3, 4, 5, 130
EXIT_MEMORY = 7   # out of memory (nasiam.errors.OUT_OF_MEMORY_EXIT); 6 is compare's failed runs


def _type_name(annotation) -> str:
    text = str(annotation).replace("typing.", "")
    for a, b in (("<class '", ""), ("'>", ""), (" | None", "")):
        text = text.replace(a, b)
    return text.upper()


def add_config_options(parser: argparse.ArgumentParser, cls, recipe: bool = True, exclude: Sequence[str] = (),
                       title: str = "options (also recipe keys)") -> None:
    """One option per config field; defaults and choices shown, values parsed by nasiam.config."""
    if recipe:
        parser.add_argument("--config", metavar="RECIPE.yaml", action="append",
                            help="read options from a recipe (recipes/*.yaml); may be given several times, later "
                                 "recipes override earlier ones and command-line options override them all")
    hints = field_types(cls)
    choices = config_choices(cls)
    group = parser.add_argument_group(title)
    for f in dataclasses.fields(cls):
        if f.name in exclude:
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        names = [f"--{f.name}"] + ([f"--{f.name.replace('_', '-')}"] if "_" in f.name else [])
        kind = typing.get_args(hints[f.name]) or (hints[f.name],)
        flag_like = bool in kind or "const" in f.metadata
        shown = ",".join(map(str, default)) if isinstance(default, list) else default
        text = f.metadata.get("help", "")
        if "(default:" not in text:  # help that already explains its default says it once
            text += f" (default: {shown})"
        if f.name in BOUNDS:   # the documented bound, checked before anything is allocated
            low, high = BOUNDS[f.name]
            text += f" [{low:g}..{high:g}]"
        metavar = "{" + ",".join(choices[f.name]) + "}" if f.name in choices else _type_name(hints[f.name])
        group.add_argument(*names, dest=f.name, default=argparse.SUPPRESS, metavar=metavar,
                           nargs="?" if flag_like else None, const=f.metadata.get("const", "true") if flag_like else None,
                           help=text)


def config_from_args(cls, args: argparse.Namespace):
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}
    return load_config(cls, args.config, overrides)


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m{seconds:02d}s"


def _scores(summary: dict[str, Any]) -> str:
    """The end-of-run evaluation in one phrase: linear probe first, then kNN."""
    parts = [f"{name} {summary[key]:.1f} %" for key, name in (("linear_top1", "linear probe"),
                                                               ("knn20_top1", "kNN k=20"), ("knn200_top1", "kNN k=200"))
             if summary.get(key) is not None]
    if not parts and summary.get("knn_top1") is not None:
        parts = [f"kNN top-1 {summary['knn_top1']:.1f} %"]
    return (", " + ", ".join(parts)) if parts else ""


def _print_config(args, cfg) -> bool:
    """--print_config: the resolved configuration as a recipe (YAML), instead of running."""
    if getattr(args, "print_config", False):
        print(config_to_yaml(cfg), end="")
        return True
    return False


def _as_usage_errors(handler):
    """Commands whose ValueErrors all come from their arguments report them as usage errors."""
    def wrapped(args) -> int:
        try:
            return handler(args)
        except (ValueError, KeyError) as e:
            raise ConfigError.from_error(e) from None
    return wrapped


def _finished(args, summary: dict[str, Any]) -> None:
    """The run has written its summary.json: a Ctrl-C from then on stops nothing, rather than
    saying "interrupted" (exit 130) over a finished run."""
    from nasiam.runner.stop import interrupt_until

    interrupt_until(lambda: True, f"nasiam {args.command}: Ctrl-C came after the run had finished; its outputs in "
                                  f"{shown_path(summary.get('run_dir', ''))} are complete, nothing to stop")


def run_command(args, config_class, run, report) -> int:
    """What `nasiam search` and `pretrain` share: the config (or --print_config alone), the run,
    the finished-run Ctrl-C guard, then rank 0 reports `report(summary, seconds in all)`."""
    cfg = config_from_args(config_class, args)
    if _print_config(args, cfg):
        return EXIT_OK
    started = time.perf_counter()
    summary = run(cfg)
    _finished(args, summary)
    if summary.get("global_rank", 0) == 0:
        report(summary, time.perf_counter() - started)
    return EXIT_OK
